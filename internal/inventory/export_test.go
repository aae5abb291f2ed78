package inventory

// Test hooks for the package's external tests.
var (
	DecodeObject = decodeObject
	FastDecode   = fastDecode
	NewObject    = newObject
)
