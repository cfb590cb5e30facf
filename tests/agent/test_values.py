"""Bounded, exception-safe value capture and redaction."""

from orion.agent.values import DEFAULT_SECRETS, MAX_SECRET_VALUES, Capturer, SecretNames
from orion.format import constants as C


def capturer(secret_values=()):
    strings: dict[str, int] = {}
    return Capturer(lambda s: strings.setdefault(s, len(strings)), SecretNames(DEFAULT_SECRETS),
                    list(secret_values)), strings


def test_limits_and_cut_marks():
    cap, _ = capturer()
    assert cap.value("x" * 250)[3] == 250 and len(cap.value("x" * 250)[2]) == 200
    seq = cap.value(list(range(80)))
    assert seq[0] == C.V_SEQ and len(seq[2]) == 50 and seq[3] == 80
    nested = cap.value([[[1]]])
    assert nested[2][0][2][0][0] == C.V_ELIDED
    assert cap.value(2**70)[0] == C.V_TEXT


def test_repr_that_raises_becomes_an_error_node():
    class Bad:
        def __repr__(self):
            raise RuntimeError("boom")

    cap, _ = capturer()
    node = cap.value(Bad())
    assert node[0] == C.V_ERROR and "boom" in node[2]


def test_secret_names_and_values_are_redacted():
    cap, _ = capturer(secret_values=["s3cr3t-value"])
    flat = cap.pairs([("password", "x"), ("user", "ada"), ("note", "has s3cr3t-value in it")])
    assert flat[1][0] == C.V_REDACTED and flat[3] == "ada" and flat[5][0] == C.V_REDACTED
    mapping = cap.value({"api_key": "k", "n": 1})
    assert mapping[2][1][0] == C.V_REDACTED and mapping[2][3] == 1


def test_redacted_values_join_the_scrubbed_ones_up_to_a_bound():
    cap, _ = capturer(secret_values=["env-secret-value"])
    cap.pairs([("password", "hunter2secret"), ("token", "short"), ("secret", "/")])
    assert cap.secret_values == ["env-secret-value", "hunter2secret"]  # long ones only
    assert cap.value("said hunter2secret")[0] == C.V_REDACTED
    cap.pairs([("token", f"token-number-{i}") for i in range(200)])
    assert len(cap.secret_values) == MAX_SECRET_VALUES
