"""Evidence selection: compound questions, list lead-ins and figure questions, on the real index."""

from __future__ import annotations

import pytest

from rag.answer.evidence import Evidence, context_for_llm, select_evidence
from rag.answer.lists import list_items, list_length
from rag.answer.extractive import extractive_answer
from rag.query import analyse, split_subquestions


def evidence_for(service, question: str, compound: bool = True) -> Evidence:
    """The question's evidence on the live index, retrieved as the service retrieves it."""
    snap = service.snapshot()
    query = analyse(question, snap.idf)
    parts = query.part_texts if compound else [query.text]
    return select_evidence(query, snap.retriever.search_compound(query.text, parts, k=5).results, snap.idf)


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
    assert list_length("刘克峰：我认为，在助力科技成果转化过程中，创投机构主要发挥两大功能。") == 2
    assert list_length("成为汽车强国需要具备以下条件：") == 1
    assert list_length("黑石BXPE基金的管理费率为1.25%。") == 0


def test_list_lead_in_brings_the_list(service) -> None:
    question = "刘克峰认为创投机构在助力科技成果转化时主要起哪两种作用？"
    answer = extractive_answer(evidence_for(service, question, compound=False))
    assert answer and "发现功能" in answer and "链接功能" in answer


def test_figure_questions_prefer_sentences_with_figures(service) -> None:
    question = "截至2021年末，全国各类创业孵化载体一共有多少家？"
    best = evidence_for(service, question, compound=False).rankings[0][0]
    assert any(ch.isdigit() for ch in best.text)


def test_compound_question_gets_evidence_for_each_part(service) -> None:
    question = "黑石BXPE基金的管理费率是多少？上海泉汐向上海川孚的有限合伙人收取多少管理费？"
    result = service.ask(question, mode="extractive")
    assert "1.25%" in result.answer and "2.5%" in result.answer
    excerpts = context_for_llm(evidence_for(service, question), budget_chars=400)
    text = "".join(t for _, t in excerpts)
    assert "1.25%" in text and "2.5%" in text


def test_first_list_item_brings_its_siblings(service) -> None:
    """"…有三个标志:一、…;" is followed by "二、…;" and "三、…。" further on."""
    question = "苗圩认为成为汽车强国有哪三个标志？"
    text = "".join(t for _, t in context_for_llm(evidence_for(service, question), budget_chars=280))
    assert "知名品牌" in text and "核心技术" in text


def test_figure_in_the_asked_unit_ranks_high(service) -> None:
    question = "到2023年10月10日，还在等着去香港上市的公司有多少家？"
    ranked = evidence_for(service, question).rankings[0]
    assert any("110家" in s.text for s in ranked[:3])


@pytest.mark.parametrize("budget", [120, 200, 280])
def test_context_stays_within_budget(service, budget: int) -> None:
    """Only a single best sentence may overrun the budget: prompt length is latency."""
    for question in ("黑石BXPE基金的管理费率是多少？上海泉汐向上海川孚的有限合伙人收取多少管理费？", "苗圩认为成为汽车强国有哪三个标志？"):
        excerpts = context_for_llm(evidence_for(service, question), budget_chars=budget)
        assert excerpts and all(text for _, text in excerpts)
        assert sum(len(text) for _, text in excerpts) <= budget or len(excerpts) == 1


def test_list_items_of_a_lead_in_and_of_a_first_item() -> None:
    sentences = ["原因主要有两点。", "第一，股息率较高；", "第二，风格转向红利。", "此后行情分化。"]
    assert list_items(sentences[0], 0, sentences) == [1, 2]
    enumerated = ["有三个标志:一、知名品牌;", "二、两种资源;", "三、核心技术。", "持续创新。"]
    assert list_items(enumerated[0], 0, enumerated) == [1, 2]
    assert list_items("黑石BXPE基金的管理费率为1.25%。", 0, ["黑石BXPE基金的管理费率为1.25%。", "下一句。"]) == []


def test_a_question_about_a_name_no_passage_holds_is_refused(service) -> None:
    # The bundled corpus has 瑞幸's and 星巴克's sales but nothing on 蜜雪冰城 (a sibling
    # entity): the passages are on topic, the gate would not see it, the name check does.
    evidence = evidence_for(service, "蜜雪冰城2023年在中国市场的总销售额是多少？")
    assert evidence.absent and evidence.answerable == 0.0  # jieba knows the name as "冰城"
    assert extractive_answer(evidence, threshold=0.5) is None


def test_a_question_whose_names_the_passages_hold_is_not_touched(service) -> None:
    evidence = evidence_for(service, "2023年瑞幸在中国市场的总销售额是多少？")
    assert evidence.absent == [] and evidence.answerable > 0.0


def test_compound_questions_are_left_to_the_gate(service) -> None:
    evidence = evidence_for(service, "蜜雪冰城2023年的销售额是多少？星巴克呢？又开了多少家店？")
    assert evidence.absent == []
