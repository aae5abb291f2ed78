package admission

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
)

func authenticationUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name}
}

// restConfigForNothing points at no cluster: a State made of it never syncs.
var restConfigForNothing = rest.Config{Host: "https://127.0.0.1:1"}
