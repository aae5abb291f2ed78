package cloud

import "embed"

// demoFS is the cloud side of the embedded demo cluster (kwid scan --demo): the outputs
// of the AWS, gcloud and az commands of docs/cloud.md for the Brightcart EKS cluster.
//
//go:embed demo
var demoFS embed.FS

// LoadDemo returns the cloud inventory of the embedded demo cluster.
func LoadDemo() (*Inventory, error) { return LoadFS(demoFS, "demo") }
