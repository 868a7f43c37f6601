"""Evidence selection: compound questions, list lead-ins and figure questions, on the real index."""

from __future__ import annotations

import pytest

from rag.generate.evidence import context_for_llm, is_lead_in, rank_sentences, split_subquestions
from rag.generate.extractive import extractive_answer


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("黑石2023年二季度从LP那里净流入了多少钱？比上年同期变化多大？", 2),
        ("国立波怎么看VC/PE的退出方式？又怎么评价专精特新梯度培育体系？", 2),
        ("隆基绿能累计研发投入有多少，以及哪一年成为双料冠军？", 2),
        ("黑石BXPE基金的管理费率定在多少？", 1),
        ("银行推进数字化转型、以及加强核心系统建设，分别受哪些因素驱动？", 1),  # one clause: asked together
    ],
)
def test_compound_questions_split_into_parts(question: str, parts: int) -> None:
    found = split_subquestions(question)
    assert len(found) == parts
    assert "".join(found).replace("，", "") in question.replace("，", "")


def test_lead_in_sentences_are_recognised() -> None:
    assert is_lead_in("刘克峰：我认为，在助力科技成果转化过程中，创投机构主要发挥两大功能。")
    assert is_lead_in("成为汽车强国需要具备以下条件：")
    assert not is_lead_in("黑石BXPE基金的管理费率为1.25%。")


def test_list_lead_in_brings_the_list(service) -> None:
    question = "刘克峰认为创投机构在助力科技成果转化时主要起哪两种作用？"
    passages = service.retrieve(question, k=5).results
    answer = extractive_answer(question, passages, service.idf)
    assert answer and "发现功能" in answer and "链接功能" in answer


def test_figure_questions_prefer_sentences_with_figures(service) -> None:
    question = "截至2021年末，全国各类创业孵化载体一共有多少家？"
    passages = service.retrieve(question, k=5).results
    best = rank_sentences(question, passages, service.idf)[0]
    assert any(ch.isdigit() for ch in best.text)


def test_compound_question_gets_evidence_for_each_part(service) -> None:
    question = "黑石BXPE基金的管理费率是多少？上海泉汐向上海川孚的有限合伙人收取多少管理费？"
    result = service.ask(question, mode="extractive")
    assert "1.25%" in result["answer"] and "2.5%" in result["answer"]
    excerpts = context_for_llm(question, result_passages(service, question), service.idf, budget_chars=400)
    text = "".join(t for _, t in excerpts)
    assert "1.25%" in text and "2.5%" in text


def result_passages(service, question: str):
    return service._fresh().search_compound(question, split_subquestions(question), k=5).results
