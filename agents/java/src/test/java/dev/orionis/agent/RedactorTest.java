package dev.orionis.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The redaction rules every agent shares (spec 7; orion/agent/values.py). */
class RedactorTest {
    private final Redactor secrets = new Redactor(Map.of("DB_PASSWORD", "hunter2-long", "HOME", "/root"));

    @Test
    void secretNamesAreWholeWords() {
        for (String name : List.of("db_password", "authToken", "AUTH_HEADER", "AWS_SECRET_ACCESS_KEY", "api-key")) {
            assertTrue(secrets.looksSecret(name), name);
        }
        for (String name : List.of("author", "max_tokens", "mypassword", "PWD", "OLDPWD")) {
            assertFalse(secrets.looksSecret(name), name);
        }
    }

    /** The edges of the rules in tests/test_redaction_matrix.py (values.py's own tests). */
    @Test
    void queryParametersAndHeaderLinesLoseSecretNamedValuesOnly() {
        assertEquals("https://a.test/x?page=2&session=<redacted>&cookie=<redacted>",
                secrets.scrub("https://a.test/x?page=2&session=s3ss10n&cookie=c00k1e"));
        assertEquals("/books?author=jane&max_tokens=5", secrets.scrub("/books?author=jane&max_tokens=5"));
        assertEquals("/go?next=https://u:<redacted>@host/&page=2", secrets.scrub("/go?next=https://u:pw-9876@host/&page=2"));
        assertEquals("Host: a\r\nCookie: <redacted>\r\nX-Api-Key: <redacted>\r\nX-Request-Id: 42",
                secrets.scrub("Host: a\r\nCookie: sid=abc; theme=dark\r\nX-Api-Key: k-123456\r\nX-Request-Id: 42"));
        assertEquals("token: expected ')' at 12:30 - retry", secrets.scrub("token: expected ')' at 12:30 - retry"));
        assertEquals("a == b && c", secrets.scrub("a == b && c"));
    }

    @Test
    void theWordAfterPIsAPasswordUnlessAPortPluginPathOrName() {
        List<String> argv = List.of("-p", "hunter2x", "-p", "8080", "-p", "80:80", "-p", "no:cacheprovider",
                "-p", "/srv/app", "-p", "--verbose", "-p", "xdist", "-p", "pytest_cov");
        List<String> expected = new java.util.ArrayList<>(argv);
        expected.set(1, Redactor.REDACTED);
        assertEquals(expected, secrets.scrubArgv(argv));
        assertEquals("again <redacted>", secrets.scrub("again hunter2x"));
    }

    @Test
    void nameWordsSplitCamelCaseAndSeparators() {
        assertEquals("auth_token", Redactor.nameWords("authToken"));
        assertEquals("auth_token", Redactor.nameWords("AUTH-TOKEN"));
        assertEquals("http_server", Redactor.nameWords("HTTPServer"));
    }

    @Test
    void freeTextLosesSecretValuesAndShapes() {
        assertEquals("connect with <redacted> now", secrets.scrub("connect with hunter2-long now"));
        assertEquals("postgres://ann:<redacted>@db/x", secrets.scrub("postgres://ann:pw1234@db/x"));
        assertEquals("Authorization: Bearer <redacted>", secrets.scrub("Authorization: Bearer abcdefghijkl"));
        assertEquals("key <redacted>", secrets.scrub("key AKIAABCDEFGHIJKLMNOP"));
        assertEquals("nothing here", secrets.scrub("nothing here"));
    }

    @Test
    void secretOptionsOnTheCommandLine() {
        assertEquals(List.of("java", "--api-key=<redacted>", "--password", "<redacted>", "run"),
                secrets.scrubArgv(List.of("java", "--api-key=abc", "--password", "xyz", "run")));
    }

    @Test
    void orionRedactReplacesTheWords() {
        Redactor custom = new Redactor(Map.of("ORION_REDACT", "pin"));
        assertTrue(custom.looksSecret("card_pin"));
        assertFalse(custom.looksSecret("password"));
    }
}
