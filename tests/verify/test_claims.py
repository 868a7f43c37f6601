"""Tests for claim detection: which sentences a citation must vouch for."""

from __future__ import annotations

from rag.verify.claims import is_claim, is_refusal


def test_is_claim() -> None:
    assert is_claim("黑石二季度LP资金净流入170亿美元[1]。")
    assert not is_claim("综上所述。")
    assert not is_claim("根据提供的资料，答案如下：")
    assert not is_claim("## 背景")
    assert not is_claim("抱歉，资料中没有提及该基金的募资规模。")


def test_headings_and_lead_ins_are_not_claims() -> None:
    assert not is_claim("一、背景")
    assert not is_claim("黑石二季度的业绩要点如下：。")
    assert not is_claim("以下是相关信息：[1]")
    assert not is_claim("[1]")


def test_connective_is_read_in_comparable_form() -> None:
    assert not is_claim("总 而 言 之！")
    assert is_claim("总而言之，黑石二季度LP资金净流入170亿美元。")


def test_refusals() -> None:
    assert is_refusal("资料中没有提及该基金的募资规模。")
    assert is_refusal("根据现有资料无法确定具体数字。")
    assert not is_refusal("黑石二季度LP资金净流入170亿美元。")
    assert not is_claim("根据现有资料，无法确定老虎环球基金的管理费具体下调了多少。")
