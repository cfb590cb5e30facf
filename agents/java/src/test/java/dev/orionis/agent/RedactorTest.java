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
