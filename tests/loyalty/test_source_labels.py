"""Points history sources read as words (就诊 No. 2), not raw keys (visit:2)."""

from django.utils import translation

from loyalty.selectors import source_label


def test_source_keys_are_shown_as_what_they_are_in_chinese_and_english():
    with translation.override("zh-hans"):
        assert source_label("visit:2") == "就诊 No. 2"
        assert source_label("enrol:6") == "入会 No. 6"
        assert source_label("demo:loyalty:+8613800000000:1") == "演示数据"
        assert source_label("pos-import-77") == "pos-import-77"
        assert source_label("") == ""
    with translation.override("en"):
        assert source_label("referral:3") == "Referral No. 3"
