"""A small realistic index built in the test process with the hash embedder (no model, no corpus).

Eight short news articles in three files and four sections, chunked small so each
article gives several overlapping chunks, and written and loaded through
rag.index.store like a real ingest.
"""

from __future__ import annotations

from pathlib import Path

from rag.config import Settings
from rag.embed.base import Embedder
from rag.index.store import IndexData, Manifest, load_index, write_index
from rag.index.tokenize import tokenize
from rag.ingest.chunk import chunk_article
from rag.types import Article

CHUNKING = {"size": 40, "overlap": 30, "max_size": 80}

# (file, section, title, text)
ARTICLES: list[tuple[str, str, str, str]] = [
    ("finance.txt", "创业投资", "美国大型PE调降管理费破解募资难困局",
     "黑石集团旗下的BXPE基金面向高净值个人投资者发行。黑石BXPE将收取1.25%的管理费，低于行业惯例的2%。"
     "业内人士认为，调降管理费是为了吸引更多资金。募资难的问题在私募股权行业普遍存在。"
     "不少机构开始推出费率更低的产品。投资者也更加关注基金的长期业绩。"),
    ("finance.txt", "创业投资", "VC/PE投资出手愈加谨慎",
     "多项活跃资本市场的政策接连推出。VC/PE机构正在调整投资和退出策略。IPO退出一直是收益最高的退出方式。"
     "随着IPO节奏放缓，机构也在并购退出、转让退出方面进行更多尝试。项目估值预期随之降低。"),
    ("finance.txt", "金融", "北京金融街集聚金融机构超过两千家",
     "北京金融街是国家金融管理中心。金融街集聚了各类金融机构两千余家，资产规模超过一百万亿元。"
     "金融街还吸引了大量科技企业入驻。金融科技成为区域发展的新动力。多家银行在金融街设立了创新实验室。"),
    ("city.txt", "城市", "崂山区城市云脑汇集十六亿条数据",
     "青岛崂山区建设城市云脑平台。城市云脑汇集了16亿条数据，覆盖交通、环保、应急等领域。"
     "平台可以实时发现道路拥堵并调度信号灯。市民通过手机就能办理一百多项政务服务。"),
    ("city.txt", "城市", "老旧小区改造惠及居民",
     "今年全市计划改造老旧小区一百二十个。改造内容包括加装电梯、更新管网和增加停车位。"
     "居民对改造方案进行了投票。施工期间社区安排了临时停车场。"),
    ("tech.txt", "AI", "人工智能大模型加速落地",
     "人工智能大模型正在进入金融、医疗和制造等行业。多家企业发布了行业大模型。"
     "大模型的训练需要大量算力，推理成本也在快速下降。专家提醒要重视数据安全和模型幻觉问题。"),
    ("tech.txt", "AI", "智能驾驶进入量产阶段",
     "多家车企宣布智能驾驶系统进入量产。激光雷达的价格已经降到一千元以下。"
     "城市道路的辅助驾驶功能陆续开放。监管部门正在制定自动驾驶的安全标准。"),
    ("tech.txt", "理论", "数字经济理论研究综述",
     "数字经济是以数据为关键生产要素的经济形态。学者们从产业、就业和分配等角度展开研究。"
     "数据要素市场的建设是当前的研究热点。平台经济的反垄断问题也受到广泛关注。"),
]


def small_settings(base: Settings) -> Settings:
    """``base`` with the chunk sizes the small index was built with (merging reads them)."""
    return base.model_copy(
        update={"chunk_size": CHUNKING["size"], "chunk_overlap": CHUNKING["overlap"],
                "chunk_max_size": CHUNKING["max_size"]}
    )


def build_small_index(index_dir: Path, embedder: Embedder) -> IndexData:
    chunks = []
    for position, (file, section, title, text) in enumerate(ARTICLES):
        index = sum(1 for other in ARTICLES[:position] if other[0] == file)
        article = Article(file=file, index=index, title=title, text=text, section=section)
        chunks.extend(chunk_article(article, CHUNKING["size"], CHUNKING["overlap"], CHUNKING["max_size"]))
    tokens = [tokenize(c.indexed_text) for c in chunks]
    vectors = embedder.embed_passages([c.indexed_text for c in chunks])
    manifest = Manifest(embedder=embedder.name, dimension=embedder.dimension, chunking=dict(CHUNKING))
    write_index(index_dir, manifest, chunks, tokens, vectors)
    return load_index(index_dir)


def empty_index(path: Path, dimension: int) -> IndexData:
    """An index version with no chunks (a fresh install before the first ingest finishes)."""
    import faiss

    return IndexData(path, Manifest(embedder="x", dimension=dimension, chunking={}), [], [], faiss.IndexFlatIP(dimension))
