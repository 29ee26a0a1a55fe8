from beam_api_pipeline.core.redaction import redact_text, redact_url


def test_sensitive_query_values_and_user_info_are_masked():
    url = "https://user:pw@api.example.com:8443/v1/items?page=2&api_key=SECRET&Token=T0K&q=x"
    assert redact_url(url) == "https://api.example.com:8443/v1/items?page=2&api_key=***&Token=***&q=x"


def test_custom_parameter_names_are_masked_too():
    assert redact_url("http://h/p?x-custom=abc&y=1", extra_params=["X-Custom"]) == "http://h/p?x-custom=***&y=1"


def test_secret_values_are_masked_in_text():
    assert redact_text("Bearer abc123 failed for abc123", ["abc123", ""]) == "Bearer *** failed for ***"
