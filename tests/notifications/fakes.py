"""SMS providers for tests, chosen with settings.SMS_BACKEND (a new instance per send, so
their memory is on the class)."""

from notifications.channels import SmsBackend


class RecordingSmsBackend(SmsBackend):
    """Accepts every text and remembers it."""

    sent = []

    @classmethod
    def reset(cls):
        cls.sent = []

    def send(self, *, phone, text, idempotency_key):
        type(self).sent.append({"phone": phone, "text": text, "key": idempotency_key})
        return f"rec-{len(type(self).sent)}"


class FlakySmsBackend(RecordingSmsBackend):
    """Fails the first `failures` sends (a provider timing out), then accepts."""

    failures = 0
    calls = 0

    @classmethod
    def reset(cls, failures=0):
        super().reset()
        cls.failures, cls.calls = failures, 0

    def send(self, *, phone, text, idempotency_key):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise ConnectionError(f"provider timed out (call {type(self).calls})")
        return super().send(phone=phone, text=text, idempotency_key=idempotency_key)
