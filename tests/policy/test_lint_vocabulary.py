"""The protected-terms vocabulary: tricky names are caught, ordinary ones are not."""

from __future__ import annotations

import pytest

from credence.errors import PolicyError
from credence.policy.vocabulary import default_vocabulary, forms, load_vocabulary, tokens

CAUGHT = {
    "protest_attendance": "political",
    "attended.rally": "political",
    "rallies": "political",
    "protester": "political",  # an agent noun of a listed term: political activity
    "criticised_government": "political",
    "praisedTheGovernment": "political",
    "petitioned the authorities": "political",
    "church_visits": "religion",
    "mosque.attendance": "religion",
    "ethnic_group": "ethnicity",
    "hukou_province": "ethnicity",
    "hiv_status": "health",
    "blood_donation": "health",
    "medical_debt": "health",
    "sexual_orientation": "sex_life",
    "union_member": "union",
    "trade-union-dues": "union",
    "faceid_match": "biometric",
    "faceIdMatch": "biometric",
    "fingerprint.scan": "biometric",
    "public_assembly": "speech_assembly",
    "weibo_posts": "proxy",
    "social_media_posts": "proxy",
    "WeChat moments posts": "proxy",
    "location_history": "proxy",
    "friendsScore": "others",
    "parents_debt": "others",
    "spouse.income": "others",
    "children_school": "others",
    "age_band": "characteristic",
    "marital_status": "characteristic",
    "alcohol_purchases": "private_life",
    "video_games": "private_life",
    "游行": "political",
    "宗教": "religion",
    "上访": "political",
    "少数民族": "ethnicity",
    "艾滋病检测": "health",
    "工会会员": "union",
    "人脸识别": "biometric",
    "朋友圈发帖": "proxy",
    "家属": "others",
    "亲属": "others",
    "子女": "others",
}

ORDINARY = [
    "payment",
    "rent",
    "rent.paid",
    "inspection",
    "days_late",
    "amount",
    "tax.filed",
    "third_party_payment",
    "parent_company",
    "credit_union_loan",
    "court.judgment",
    "government_bond",
    "bill.paid",
    "loan.defaulted",
    "rental.returned",
    "identity.verified",
    "account.anniversary",
    "health and safety inspection",
    "loyalty_points",
    "bankruptcy petition",
    "mass_transit",
    "the following month",
    "wechat_pay",
    "rider",
    "order.cancelled",
    "按时缴费",
]


@pytest.mark.parametrize(("name", "category"), CAUGHT.items())
def test_tricky_names_are_caught(name: str, category: str) -> None:
    found = [m.category.name for m in default_vocabulary().find(name)]
    assert category in found


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_are_not_flagged(name: str) -> None:
    assert default_vocabulary().find(name, event_type=True) == []


def test_surveillance_terms_count_only_for_event_types() -> None:
    vocab = default_vocabulary()
    assert [m.category.name for m in vocab.find("cctv.sighting", event_type=True)] == [
        "surveillance"
    ]
    assert vocab.find("cctv.sighting") == []


def test_tokens_split_ids_text_and_camel_case() -> None:
    assert tokens("protestAttendance.v2-x_y Z") == ["protest", "attendance", "v2", "x", "y", "z"]


def test_forms_cover_inflections_but_never_short_stems() -> None:
    assert {"rally"} <= forms("rallies")
    assert {"protest"} <= forms("protester")
    assert {"criticise"} <= forms("criticised")
    assert "us" not in forms("uses")


def test_every_category_cites_law_and_has_english_and_chinese_terms() -> None:
    for category in default_vocabulary().categories:
        assert category.law.strip(), category.name
        assert category.terms or category.phrases, category.name
        assert category.chinese, category.name
        assert category.severity in ("error", "warning")


def test_a_malformed_vocabulary_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="vocabulary is malformed"):
        load_vocabulary("categories: {x: {label: y}}")
