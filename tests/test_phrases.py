from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import shared_path

from pipeline import phrases as phrases_module
from pipeline.config import Settings
from pipeline.engine import analyse
from pipeline.lexicon import general_frequencies
from pipeline.phrases import count_grams, extract, phrase_key
from pipeline.records import Segment
from pipeline.text import normalize

REGIONS = ["上海", "山东", "江西", "甘肃", "重庆", "河北"]


def _run(nlp, texts: list[str], user_phrases: tuple[str, ...] = ()):
    segments = [
        Segment(f"doc#{i}", "doc", REGIONS[i % len(REGIONS)], "", "", None, normalize(text))
        for i, text in enumerate(texts)
    ]
    analysed = analyse(segments, nlp)
    result = extract(segments, analysed.sentences, analysed.spans, Settings(), user_phrases=user_phrases)
    return segments, {phrase.phrase: phrase for phrase in result.phrases}, result


def test_quoted_slogans_and_long_quotations(nlp) -> None:
    _, phrases, _ = _run(
        nlp,
        [
            "锚定“走在前、开新局”，培育“小巨人”企业。",
            "报告提出“坚持把发展经济的着力点放在实体经济上，推进新型工业化”的要求。",
            "发力“3+6”新型产业体系。",
        ],
    )
    assert phrases["走在前、开新局"].kind == "quoted"
    assert phrases["小巨人"].kind == "quoted"
    assert phrases["3+6"].kind == "numbered"
    # A long quoted sentence said once is a citation, not a slogan.
    assert not any(phrase.startswith("坚持把发展经济") for phrase in phrases)


def test_long_quotation_kept_when_it_recurs(nlp) -> None:
    quote = "“坚持把发展经济的着力点放在实体经济上，推进新型工业化”"
    _, phrases, _ = _run(nlp, [f"报告强调{quote}。", f"我们要落实{quote}。"])
    phrase = phrases["坚持把发展经济的着力点放在实体经济上，推进新型工业化"]
    assert phrase.kind == "quotation" and phrase.count == 2 and phrase.regions == ("上海", "山东")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("深刻领悟“两个确立”的决定性意义。", "两个确立"),
        ("坚定四个自信，增强四个意识。", "四个自信"),
        ("以实施三大工程为载体。", "三大工程"),
        ("促进“三化联动”。", "三化联动"),
        ("做实做好“五量”文章。", "五量"),
        ("推动稳增长等10个专项行动计划落实。", "10个专项行动计划"),
    ],
)
def test_numbered_formulas(nlp, text: str, phrase: str) -> None:
    _, phrases, _ = _run(nlp, [text])
    assert phrases[phrase].kind == "numbered"


def test_numbers_in_statistics_are_not_formulas(nlp) -> None:
    _, phrases, _ = _run(
        nlp,
        [
            "地区生产总值增长7.5%，10月16日召开会议，过去5年成绩显著，向第二个百年奋斗目标进军，今后一个时期任务繁重。"
        ],
    )
    assert not [p for p in phrases.values() if p.kind == "numbered"]


def test_numbered_head_prefers_the_recurring_extent(nlp) -> None:
    _, phrases, _ = _run(
        nlp, ["把忠诚拥护两个确立转化为行动。", "深刻领悟两个确立的决定性意义。", "坚决拥护两个确立。"]
    )
    assert phrases["两个确立"].count == 3
    assert "两个确立转化" not in phrases


def test_enumerations_items_and_nesting(nlp) -> None:
    _, phrases, _result = _run(
        nlp,
        [
            "强力推动制造业高端化、智能化、绿色化、服务化、生态化发展。",
            "全力推动工业高端化、智能化、绿色化转型。",
            "加快建设制造强国、网络强国、数字中国。",
            "报告高屋建瓴、思想深邃，气势恢宏、统揽全局。",
            "上海、江苏、浙江三地联动。",
        ],
    )
    five = phrases["高端化、智能化、绿色化、服务化、生态化"]
    three = phrases["高端化、智能化、绿色化"]
    assert five.kind == three.kind == "enumeration"
    assert five.items == ("高端化", "智能化", "绿色化", "服务化", "生态化")
    assert "高端化、智能化、绿色化" in five.contains
    # Nested counting: the three-item core is counted inside the five-item one as well.
    assert three.count == 2 and three.regions == ("上海", "山东")
    assert phrases["制造强国、网络强国、数字中国"].items == ("制造强国", "网络强国", "数字中国")
    assert "高屋建瓴、思想深邃，气势恢宏、统揽全局" in phrases
    assert not any("江苏" in phrase for phrase in phrases)  # a list of places is not a formula
    assert not any(phrase.startswith(("制造业高端化", "强力")) for phrase in phrases)


def test_statistical_phrases_whole_not_fragments(nlp) -> None:
    texts = [
        "深入学习贯彻党的二十大精神，推动高质量发展。",
        "认真学习党的二十大精神，坚持高质量发展。",
        "全面贯彻党的二十大精神，实现高质量发展。",
        "推动二十大精神落地，着力高质量发展。",
    ]
    _, phrases, _ = _run(nlp, texts)
    assert phrases["党的二十大精神"].kind == "statistical"
    assert phrases["党的二十大精神"].regions == ("上海", "山东", "江西")
    assert "高质量发展" in phrases
    for fragment in ("二十大精", "的二十大精神", "质量发展", "党的二十大精"):
        assert fragment not in phrases
    # 二十大精神 also occurs on its own (推动二十大精神落地): kept although it is inside a longer phrase.
    assert phrases["二十大精神"].count == 4


def test_variants_merge_under_one_phrase(nlp) -> None:
    _, phrases, _ = _run(
        nlp,
        [
            "完整、准确、全面贯彻新发展理念，确保落地生根、开花结果。",
            "完整准确全面贯彻新发展理念，确保精神落地生根开花结果。",
            "完整、准确、全面贯彻新发展理念，推动工作落地生根、开花结果。",
        ],
    )
    enumeration = phrases["落地生根、开花结果"]
    assert set(enumeration.variants) == {"落地生根、开花结果", "落地生根开花结果"}
    assert enumeration.count == 3
    theory = phrases["完整、准确、全面贯彻新发展理念"]
    assert set(theory.variants) == {"完整、准确、全面贯彻新发展理念", "完整准确全面贯彻新发展理念"}
    assert theory.count == 3


def test_phrase_key_normalises_forms() -> None:
    assert phrase_key("10个专项行动计划") == phrase_key("十个专项行动计划")
    assert phrase_key("二个确立") == phrase_key("两个确立")
    assert phrase_key("“两个确立”") == phrase_key("两个确立")
    assert phrase_key("３＋６") == phrase_key("3+6")


def test_user_phrases_always_counted(nlp) -> None:
    _, phrases, _ = _run(nlp, ["坚持稳中求进工作总基调。"], user_phrases=("稳中求进", "共同富裕"))
    assert phrases["稳中求进"].kind == "user" and phrases["稳中求进"].count == 1
    assert phrases["共同富裕"].kind == "user" and phrases["共同富裕"].count == 0


def test_hits_point_at_their_text(nlp, seed_segments) -> None:
    analysed = analyse(seed_segments, nlp)
    result = extract(seed_segments, analysed.sentences, analysed.spans)
    texts = {segment.segment_id: segment.text for segment in seed_segments}
    variants = {phrase.phrase: phrase.variants for phrase in result.phrases}
    sentences = {(s.segment_id, s.index): s for s in analysed.sentences}
    for hit in result.hits:
        assert texts[hit.segment_id][hit.start : hit.end] in variants[hit.phrase]
        sentence = sentences[(hit.segment_id, hit.sentence_index)]
        assert sentence.start <= hit.start < sentence.end


def _word_bounds(sentences, segment_id: str, text: str) -> set[int]:
    """Offsets where a word of the segmenter starts or ends, or a non-word character stands."""
    bounds = {0, len(text)}
    for sentence in sentences:
        if sentence.segment_id == segment_id:
            position = sentence.start
            for token in sentence.tokens:
                bounds.update((position, position + len(token)))
                position += len(token)
    bounds.update(i for i, char in enumerate(text) if not char.isalnum())
    bounds.update(i + 1 for i, char in enumerate(text) if not char.isalnum())
    return bounds


def _cut_word(text: str, bounds: set[int], offset: int) -> str | None:
    """The word ``offset`` falls inside, or None on a boundary."""
    if offset in bounds:
        return None
    before = max(b for b in bounds if b < offset)
    return text[before : min(b for b in bounds if b > offset)]


def _substring_uses(text: str, forms, bounds: set[int], known) -> tuple[int, int]:
    """(uses, in-word matches) of a phrase, by plain substring search: a match is in a word when
    it cuts a word the general lexicon knows; overlapping matches of one phrase count once."""
    spans = []
    for form in forms:
        position = text.find(form)
        while position >= 0:
            spans.append((position, position + len(form)))
            position = text.find(form, position + len(form))
    uses = in_word = 0
    reach = -1
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start < reach:
            continue
        reach = end
        cut = [word for word in (_cut_word(text, bounds, start), _cut_word(text, bounds, end)) if word]
        if any(word in known for word in cut):
            in_word += 1
        else:
            uses += 1
    return uses, in_word


def _check_counts(segments, analysed, result) -> None:
    known = general_frequencies()
    bounds = {s.segment_id: _word_bounds(analysed.sentences, s.segment_id, s.text) for s in segments}
    for phrase in result.phrases:
        uses = in_word = 0
        for segment in segments:
            found = _substring_uses(segment.text, phrase.variants, bounds[segment.segment_id], known)
            uses, in_word = uses + found[0], in_word + found[1]
        assert (phrase.count, phrase.in_word) == (uses, in_word), phrase.phrase


def test_count_equals_word_aligned_substring_search(nlp, seed_segments) -> None:
    analysed = analyse(seed_segments, nlp)
    result = extract(seed_segments, analysed.sentences, analysed.spans)
    assert result.phrases
    _check_counts(seed_segments, analysed, result)


def test_count_equals_word_aligned_substring_search_on_the_reports(nlp) -> None:
    """A sample of the 183 reports: longer texts, many in-word matches."""
    folder = shared_path("corpora", "gov_work_reports")
    files = sorted(folder.glob("*.txt"))[::30]
    segments = [
        Segment(f"r{i}", path.name, REGIONS[i % len(REGIONS)], "", "", None, normalize(path.read_text("utf-8")))
        for i, path in enumerate(files)
    ]
    analysed = analyse(segments, nlp)
    result = extract(segments, analysed.sentences, analysed.spans)
    assert sum(phrase.in_word for phrase in result.phrases) > 0
    _check_counts(segments, analysed, result)


def test_a_match_inside_a_longer_word_is_no_use(nlp) -> None:
    # 创新发展理念 holds the letters of 新发展理念 but cuts the word 创新: no use of the phrase.
    texts = [
        "我们坚持新发展理念，贯彻新发展理念。",
        "坚持创新发展理念，全面贯彻新发展理念。",
        "必须更新发展理念，树立新发展理念。",
    ]
    segments, phrases, result = _run(nlp, texts, user_phrases=("新发展理念",))
    phrase = phrases["新发展理念"]
    assert (phrase.count, phrase.in_word) == (4, 2)
    rejected = [segments[i].text[s:e] for i, s, e in zip(
        result.in_word.segment.tolist(), result.in_word.start.tolist(), result.in_word.end.tolist(), strict=True
    )]
    assert rejected == ["新发展理念", "新发展理念"]
    assert {hit.segment_id for hit in result.hits if hit.phrase == "新发展理念"} == {"doc#0", "doc#1", "doc#2"}


def test_a_quoted_user_phrase_is_counted_once(nlp) -> None:
    texts = ["坚定拥护“两个确立”，坚决做到“两个维护”。", "深刻领悟“两个确立”的决定性意义，两个确立。"]
    _, phrases, result = _run(nlp, texts, user_phrases=("“两个确立”",))
    assert phrases["两个确立"].count == 3
    assert sum(hit.phrase == "两个确立" for hit in result.hits) == 3


def test_seed_phrases_by_family(nlp, seed_segments) -> None:
    analysed = analyse(seed_segments, nlp)
    result = extract(seed_segments, analysed.sentences, analysed.spans)
    phrases = {phrase.phrase: phrase for phrase in result.phrases}
    expected = {
        "两个确立": ("numbered", ("上海", "江西", "甘肃")),
        "四个意识": ("numbered", ("上海",)),
        "三大工程": ("numbered", ("江西",)),
        "走在前、开新局": ("quoted", ("山东",)),
        "小巨人": ("quoted", ("河北",)),
        "落地生根、开花结果": ("enumeration", ("山东", "山西", "重庆")),
        "高端化、智能化、绿色化、服务化、生态化": ("enumeration", ("山东",)),
        "高端化、智能化、绿色化": ("enumeration", ("山东", "河北")),
        "高质量发展": ("statistical", ("上海", "安徽", "山西", "江西", "河北", "甘肃", "重庆")),
        "现代化产业体系": ("statistical", ("上海", "山西", "江西", "河北", "甘肃", "重庆")),
        "新型工业化": ("statistical", ("山东", "山西", "江西", "河北", "甘肃", "重庆")),
        "产业链供应链韧性": ("statistical", ("上海", "山东", "江西", "甘肃")),
        "全面建设社会主义现代化国家": ("statistical", ("上海", "山东", "江西", "甘肃", "重庆")),
        "以习近平同志为核心的党中央": ("statistical", ("上海", "甘肃")),
        "完整、准确、全面贯彻新发展理念": ("statistical", ("上海", "山西", "甘肃")),
    }
    for phrase, (kind, regions) in expected.items():
        assert (phrases[phrase].kind, phrases[phrase].regions) == (kind, regions), phrase
    assert "十个专项行动计划" in {phrase_key(p) for p in phrases}
    for fragment in ("二十大精", "会主义现代化", "现代化产业体", "我们将", "的重要"):
        assert fragment not in phrases


def test_a_form_overlapping_itself_is_counted_as_str_count_does(nlp) -> None:
    """一带一路一带 starts at 2, 6 and 10 below; the one at 6 overlaps the first, the one at 10 does not."""
    text = "推进一带一路一带一路一带一路一带建设。"
    segments = [Segment("s1", "a.txt", "上海", "", "", 2017, text)]
    analysed = analyse(segments, nlp)
    result = extract(segments, analysed.sentences, analysed.spans, user_phrases=("一带一路一带",))
    (phrase,) = [p for p in result.phrases if p.phrase == "一带一路一带"]
    assert phrase.count == text.count("一带一路一带") == 2
    starts = [hit.start for hit in result.hits if hit.phrase == "一带一路一带"]
    assert starts == [2, 10]


def test_grams_counted_before_segmentation_give_the_same_phrases(nlp, seed_segments) -> None:
    """count_grams needs only the texts (it runs while the segmenter works); extract then adds the rest."""
    grams = count_grams(seed_segments)
    assert grams.grams and all(n >= Settings().min_chars for n, _, _ in grams.grams)
    analysed = analyse(seed_segments, nlp)
    alone = extract(seed_segments, analysed.sentences, analysed.spans)
    given = extract(seed_segments, analysed.sentences, analysed.spans, grams=grams)
    assert given.phrases == alone.phrases
    assert given.hits == alone.hits
    # Grams of other texts are not used: they are counted again.
    other = count_grams(seed_segments[:2])
    assert extract(seed_segments, analysed.sentences, analysed.spans, grams=other).phrases == alone.phrases


def test_phrases_summarised_a_few_hits_at_a_time_are_the_same(nlp, seed_segments, monkeypatch) -> None:
    """The ranking's steps take the hits a block of phrases at a time (bounded memory): blocks of one
    phrase each give the same phrases, scores and roles as one block of all."""
    analysed = analyse(seed_segments, nlp)
    whole = extract(seed_segments, analysed.sentences, analysed.spans)
    monkeypatch.setattr(phrases_module, "SUMMARY_ROWS", 1)
    blocks = list(phrases_module._phrase_blocks(whole.hit_table))
    assert len(blocks) == len(whole.phrases) > 20
    assert extract(seed_segments, analysed.sentences, analysed.spans).phrases == whole.phrases


_GRAM_TEXTS = [
    "坚持新发展理念，完整、准确、全面贯彻新发展理念。推动高质量发展。",
    "完整准确全面贯彻新发展理念，推动高质量发展，坚持新发展理念。",
    "推动高质量发展取得新成效。坚持新发展理念不动摇。",
    "全面贯彻新发展理念，推动高质量发展。",
]


def _plain_gram_counts(codes, n: int, min_count: int) -> dict[tuple[int, ...], int]:
    """Every n-gram of word characters (no 0 code) of the key-space codes said ``min_count``+ times."""
    codes = codes.tolist()
    found = Counter(
        tuple(codes[i : i + n]) for i in range(len(codes) - n + 1) if all(codes[i : i + n])
    )
    return {gram: times for gram, times in found.items() if times >= min_count}


@pytest.mark.parametrize("rows", [1, 3, 1 << 19])
def test_gram_counts_in_buckets_equal_a_plain_count(monkeypatch, rows: int) -> None:
    """Counted in buckets of a few hashes (and chunks of a few rows), the tables are the plain counts
    of every n-gram, the occurrences kept are those of one pass, and each points at its n-gram."""
    segments = [
        Segment(f"doc#{i}", "doc", REGIONS[i % len(REGIONS)], "", "", None, normalize(text))
        for i, text in enumerate(_GRAM_TEXTS)
    ]
    settings = Settings(min_chars=2, max_chars=8)
    whole = count_grams(segments, settings)  # one bucket, one chunk
    monkeypatch.setattr(phrases_module, "_BUCKET_ROWS", rows)
    monkeypatch.setattr(phrases_module, "_CHUNK_ROWS", max(rows, 2))
    grams = count_grams(segments, settings)
    for n in range(1, settings.max_chars + 1):
        expected = {
            int(phrases_module._hashes(np.asarray(gram, dtype=np.uint32), np.zeros(1, np.int64), n)[0]): times
            for gram, times in _plain_gram_counts(grams.codes, n, grams.min_count).items()
        }
        hashes, counts = grams.tables.get(n, (np.zeros(0, np.uint64), np.zeros(0, np.int64)))
        assert hashes.tolist() == sorted(expected)
        assert counts.tolist() == [expected[value] for value in sorted(expected)]
        assert np.array_equal(hashes, whole.tables.get(n, (hashes,))[0])
    assert len(grams.grams) == len(whole.grams)
    for (n, positions, group), (n_whole, positions_whole, group_whole) in zip(grams.grams, whole.grams, strict=True):
        assert n == n_whole and np.array_equal(positions, positions_whole) and np.array_equal(group, group_whole)
        assert np.all(np.diff(positions) > 0)
        assert np.array_equal(grams.tables[n][0][group], phrases_module._hashes(grams.codes, positions, n))
    kept_5 = {
        "".join(map(chr, grams.codes[at : at + 5])) for n, positions, _ in grams.grams if n == 5 for at in positions
    }
    assert kept_5 == {"新发展理念"}  # 高质量发展 recurs too, but always after 推动: not free


def _rank(result, phrase: str) -> int:
    return [p.phrase for p in result.phrases].index(phrase)


def test_a_core_said_in_many_longer_phrases_outranks_each_of_them(nlp) -> None:
    verbs = ["坚持", "贯彻", "树立", "践行", "落实", "完整准确全面贯彻"]
    texts = [f"我们{verb}新发展理念，推动高质量发展。全省上下{verbs[i - 1]}新发展理念。" for i, verb in enumerate(verbs)]
    _, phrases, result = _run(nlp, texts)
    core = _rank(result, "新发展理念")
    longer = [p for p in phrases if "新发展理念" in p and p != "新发展理念"]
    assert longer, "the verb phrases are phrases too"
    assert all(core < _rank(result, p) for p in longer), [p for p in longer if _rank(result, p) < core]


def test_a_fragment_of_one_longer_phrase_is_not_listed(nlp) -> None:
    texts = [
        f"{verb}高效办成一件事{noun}，群众满意。"
        for verb, noun in (("推进", "改革"), ("落实", "要求"), ("深化", "举措"), ("抓好", "工作"), ("完善", "机制"), ("推动", "试点"))
    ]
    _, phrases, _ = _run(nlp, texts)
    assert "高效办成一件事" in phrases
    assert "一件事" not in phrases and "办成一件事" not in phrases


def test_a_three_character_formula_is_found_and_common_words_are_not(nlp) -> None:
    texts = [
        f"主动适应经济发展新常态，{verb}现代化建设。{verb}新常态下的改革。"
        for verb in ("引领", "把握", "适应", "认识", "推进", "加快")
    ]
    _, phrases, _ = _run(nlp, texts)
    assert "新常态" in phrases
    assert "现代化" not in phrases  # an ordinary word of Chinese, however often it is said


def test_a_statistics_label_ranks_below_a_formula_with_the_same_spread(nlp) -> None:
    texts = [
        f"居民消费价格涨幅控制在{3 + i % 3}%以内。坚决打赢精准扶贫攻坚战，推进精准扶贫工作。居民消费价格涨幅{2 + i % 2}%。"
        for i in range(6)
    ]
    _, phrases, result = _run(nlp, texts)
    label, formula = phrases["居民消费价格涨幅"], phrases["精准扶贫"]
    assert (label.role, formula.role) == ("label", "formula")
    assert label.regions == formula.regions and label.count == formula.count
    assert _rank(result, "精准扶贫") < _rank(result, "居民消费价格涨幅")


def test_a_label_whose_number_comes_a_few_words_later_is_a_label(nlp) -> None:
    texts = [
        f"城乡居民人均可支配收入分别增长{8 + i % 3}%和{9 + i % 2}%。深入推进“放管服”改革。城乡居民人均可支配收入年均增长{7 + i % 2}%。"
        for i in range(6)
    ]
    _, phrases, result = _run(nlp, texts)
    label = phrases["城乡居民人均可支配收入"]  # 分别增长, 年均增长: 4 characters before the number
    assert (label.role, phrases["放管服"].role) == ("label", "formula")
    assert _rank(result, "放管服") < _rank(result, "城乡居民人均可支配收入")


def test_a_meeting_named_by_its_ordinal_is_a_title_not_a_formula(nlp) -> None:
    texts = [
        f"深入贯彻党的十八大和十八届三中全会精神，{verb}“放管服”改革，推进“互联网+”行动。"
        for verb in ("深化", "推进", "落实", "抓好", "推动", "完善")
    ]
    _, phrases, result = _run(nlp, texts)
    titles = [p for p in phrases.values() if "十八" in p.phrase]
    assert titles and all(p.role == "title" for p in titles), [(p.phrase, p.role) for p in titles]
    assert phrases["放管服"].role == "formula"
    assert all(_rank(result, "放管服") < _rank(result, p.phrase) for p in titles)


def test_a_verb_governing_many_phrases_frames_them_and_one_governing_one_does_not() -> None:
    import ahocorasick

    from pipeline.lexicon import parts_of_speech
    from pipeline.phrases import FRAME_INNERS, _frames

    objects = ["新型城镇化", "供给侧结构性改革", "乡村振兴", "简政放权", "放管结合", "精准扶贫", "河长制", "多规合一",
               "全域旅游", "分级诊疗", "海绵城市", "特色小镇", "智慧城市", "营改增", "去产能", "去库存", "去杠杆",
               "降成本", "补短板", "一带一路", "互联网+"]
    assert len(objects) >= FRAME_INNERS
    names = objects + [f"推进{name}" for name in objects] + ["小康社会", "全面建成小康社会", "加强和推进新型城镇化"]
    kept = ahocorasick.Automaton()
    for name in names:
        kept.add_word(name, name)
    kept.make_automaton()
    uses = dict.fromkeys(names, 10) | {"小康社会": 12}  # 全面建成 comes with most uses of 小康社会
    frames = _frames(names, set(names), kept, parts_of_speech(), uses)
    assert {f"推进{name}" for name in objects} <= frames  # 推进 governs every one of them: a frame
    assert "加强和推进新型城镇化" in frames  # the last of two verbs joined by 和 governs it
    assert "全面建成小康社会" not in frames  # 建成 governs this one phrase alone: part of the formula
    assert not frames & set(objects)


def test_a_formula_followed_by_为_and_one_word_is_framed_though_the_dictionary_has_为主() -> None:
    import ahocorasick

    from pipeline.lexicon import parts_of_speech
    from pipeline.phrases import _frames

    names = ["供给侧结构性改革", "供给侧结构性改革为主线", "科学发展观", "科学发展观为指导", "国有企业", "国有企业为主"]
    kept = ahocorasick.Automaton()
    for name in names:
        kept.add_word(name, name)
    kept.make_automaton()
    frames = _frames(names, set(names), kept, parts_of_speech(), dict.fromkeys(names, 10))
    assert {"供给侧结构性改革为主线", "科学发展观为指导"} <= frames  # (以)…为主线, (以)…为指导
    assert "国有企业为主" not in frames  # 为主 (mainly) is a verb, not 为 governing a word


def test_a_verb_said_before_a_minority_of_a_formulas_uses_is_a_frame_of_it(nlp) -> None:
    texts = [
        "我们适应经济发展新常态，推动高质量发展。",
        "全省适应经济发展新常态，加快转型。",
        "各地引领经济发展新常态，深化改革。",
        "必须适应经济发展新常态。经济发展新常态下，改革前进。",
        "把握经济发展新常态，稳中求进。",
        "认识经济发展新常态，创新驱动。",
    ]
    _, phrases, result = _run(nlp, texts)
    framed = phrases["适应经济发展新常态"]  # 3 of the formula's 7 uses: one frame among several
    assert (framed.role, phrases["经济发展新常态"].role) == ("frame", "formula")
    assert _rank(result, "经济发展新常态") < _rank(result, "适应经济发展新常态")


def test_a_phrase_taken_up_from_one_year_on_outranks_one_said_in_a_single_year(nlp) -> None:
    # Both said twice by each of six regions: “新征程” in 2016 and 2017, “大会战” in 2015 alone (a spike,
    # more uses per year of use). Taken up from one year on is the shift diffusion studies trace.
    segments = [
        Segment(f"{region}{year}", f"{region}{year}.txt", region, "", "", year, normalize(text))
        for region in REGIONS
        for year, text in (
            (2014, "全年经济运行平稳。"),
            (2015, "打好“大会战”，再打“大会战”。"),
            (2016, "迈上“新征程”。"),
            (2017, "奋进“新征程”。"),
        )
    ]
    analysed = analyse(segments, nlp)
    result = extract(segments, analysed.sentences, analysed.spans, Settings())
    phrases = {phrase.phrase: phrase for phrase in result.phrases}
    taken_up, spike = phrases["新征程"], phrases["大会战"]
    assert taken_up.count == spike.count == 12 and taken_up.regions == spike.regions
    assert _rank(result, "新征程") < _rank(result, "大会战")
    assert taken_up.score > 2 * spike.score  # shifts 1 (none, then all) against 1/3


def test_the_unquoted_rest_of_a_partly_quoted_formulation_is_a_fragment(nlp) -> None:
    texts = [
        f"{verb}统筹推进“五位一体”总体布局和协调推进“四个全面”战略布局，深化“放管服”改革。"
        for verb in ("我们", "全省", "必须", "坚持", "继续", "始终")
    ]
    _, phrases, result = _run(nlp, texts)
    rests = [name for name in ("战略布局", "总体布局和协调推进") if name in phrases]
    assert rests  # said in every text, free of any longer listed phrase: listed, but not as formulas
    assert all(phrases[name].role == "fragment" for name in rests), [(n, phrases[n].role) for n in rests]
    assert phrases["四个全面"].role == phrases["放管服"].role == "formula"
    assert all(_rank(result, "四个全面") < _rank(result, name) for name in rests)


def test_a_phrase_that_begins_several_listed_phrases_is_a_term_not_a_formula(nlp) -> None:
    texts = [
        f"{verb}机关事业单位{rest}，{other}{rest}。"
        for verb, other in (("推进", "完善"), ("深化", "落实"))
        for rest in ("养老保险制度改革", "工资制度", "工作人员")
    ]
    _, phrases, result = _run(nlp, texts)
    built_on = [p for p in phrases if p.startswith("机关事业单位") and p != "机关事业单位"]
    assert len(built_on) >= 3  # 机关事业单位|养老保险制度改革, |工资制度, |工作人员: each rest listed too
    assert phrases["机关事业单位"].role == "term"
    assert phrases["养老保险制度改革"].role == "formula"  # begins no listed phrase
    assert all(_rank(result, p) < _rank(result, "机关事业单位") for p in built_on)


def test_a_phrase_mostly_going_on_with_the_same_character_is_cut_short(nlp) -> None:
    texts = [
        f"{verb}资源节约型、环境友好型社会，推进“放管服”改革。“全面两孩”政策落地。"
        for verb in ("建设", "加快建设", "推进", "努力建设", "着力建设", "全面建设")
    ]
    _, phrases, _ = _run(nlp, texts)
    assert phrases["资源节约型、环境友好型"].role == "fragment"  # always followed by 社会
    assert phrases["全面两孩"].role == "formula"  # the quotes say where it ends
    assert phrases["放管服"].role == "formula"
