"""The retention sweep's steps, one module each; `orderbridge.privacy.retention` runs them in order."""
