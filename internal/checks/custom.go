package checks

// NewCheck makes a check outside the built-in catalog (custom rules). meta gives its ID,
// title, default severity, the kinds it reads, references and description; fn reports
// findings through add (Check, Title and References are filled in when empty) and missing
// data through notAssessed.
func NewCheck(meta Check, fn func(in *Input, add func(Finding), notAssessed func(reason string))) *Check {
	c := meta
	c.run = func(in *Input, r *run) {
		fn(in, r.add, func(reason string) { r.notAssessed("", []string{reason}) })
	}
	return &c
}
