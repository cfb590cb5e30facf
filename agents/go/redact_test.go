package orion

import (
	"reflect"
	"testing"
)

func TestSecretNamesAreWholeWords(t *testing.T) {
	r := &redactor{words: defaultSecretWords}
	for name, want := range map[string]bool{
		"password": true, "db_password": true, "authToken": true, "AUTH_HEADER": true,
		"api-key": true, "access_key": true, "author": false, "PWD": false, "OLDPWD": false,
		"user": false, "tokens": false,
	} {
		if got := r.looksSecret(name); got != want {
			t.Errorf("looksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestArgvSecretsAreRedacted(t *testing.T) {
	r := &redactor{words: defaultSecretWords, values: []string{"s3cr3t-value"}}
	got := r.scrubArgv([]string{"prog", "--api-key=abc", "--password", "hunter2", "-v", "x=s3cr3t-value"})
	want := []string{"prog", "--api-key=<redacted>", "--password", "<redacted>", "-v", "x=<redacted>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scrubArgv = %q, want %q", got, want)
	}
}
