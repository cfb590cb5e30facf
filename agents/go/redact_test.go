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

func TestSecretShapesAreScrubbed(t *testing.T) {
	r := &redactor{words: defaultSecretWords}
	for text, want := range map[string]string{
		"postgres://app:hunter2@db:5432/x":              "postgres://app:<redacted>@db:5432/x",
		"Authorization: Bearer abcdefgh12345":           "Authorization: Bearer <redacted>",
		"key AKIAABCDEFGHIJKLMNOP here":                 "key <redacted> here",
		"token ghp_abcdefghijklmnopqrstuvwxyz0123":      "token <redacted>",
		"jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig-abc": "jwt <redacted>",
		"plain words and a path /usr/lib":               "plain words and a path /usr/lib",
	} {
		if got := r.scrub(text); got != want {
			t.Errorf("scrub(%q) = %q, want %q", text, got, want)
		}
	}
}
