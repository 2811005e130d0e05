"""The mutations of tests/README.md's table, each applied alone to the working tree
and the tests that claim to catch it run against it: every line should say CAUGHT.

    python -m tests.mutations            every mutation (about a minute)
    python -m tests.mutations "CURRENT"  those whose label holds the text

Each file is restored after its run, whatever happens; run it on a clean tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (label, file, the code as it is, the mutated code, the tests that must fail)
MUTATIONS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "1 Slack: a refused /reindex falls through and rebuilds",
        "bot/chat/slack/app.py",
        '        return messages.only_admins("admins")',
        '        messages.only_admins("admins")',
        ["tests/slack/test_slack.py::test_reindex_refused_for_non_admins"],
    ),
    (
        "1 Discord: a refused /reindex falls through and rebuilds",
        "bot/chat/discord/commands.py",
        '        return messages.only_admins("server managers")',
        '        messages.only_admins("server managers")',
        ["tests/test_discord.py::test_reindex_refused_without_manage_server"],
    ),
    (
        "1 Discord: is_admin true for an interaction without a server (a DM)",
        "bot/chat/discord/commands.py",
        "    if interaction.guild_id is None or not isinstance(member, discord.Member):\n        return False",
        "    if interaction.guild_id is None or not isinstance(member, discord.Member):\n        return True",
        ["tests/test_discord.py::test_reindex_refused_without_manage_server"],
    ),
    (
        "2 Slack: answer channels without the question filter",
        "bot/chat/slack/app.py",
        'if f"<@{context.bot_user_id}" in text or not looks_like_question(text):',
        'if f"<@{context.bot_user_id}" in text:',
        [
            "tests/slack/test_slack.py::test_answer_channel",
            "tests/slack/test_slack.py::test_answer_channel_can_say_not_found",
        ],
    ),
    (
        "2 Discord: answer channels without the question filter",
        "bot/chat/discord/client.py",
        "elif self.config.discord_message_content and looks_like_question(question):",
        "elif self.config.discord_message_content:",
        [
            "tests/test_discord_threads.py::test_what_answer_channels_leave_alone",
            "tests/test_discord_threads.py::test_answer_channel_can_say_not_found",
        ],
    ),
    (
        "3 min_score halved where abstention is decided",
        "bot/answer/answerer.py",
        "        if confidence < self.threshold:",
        "        if confidence < self.threshold / 2:",
        ["tests/test_signals.py::test_a_confidence_at_min_score_answers_and_a_hair_below_abstains"],
    ),
    (
        "3 the default threshold halved",
        "bot/answer/answerer.py",
        "return self.reader.weighing.threshold if self.reader else EVIDENCE_MIN_SCORE",
        "return self.reader.weighing.threshold if self.reader else EVIDENCE_MIN_SCORE / 2",
        ["tests/test_signals.py::test_a_near_miss_abstains_at_the_default_threshold"],
    ),
    (
        "3 abstention at the threshold itself (<= for <)",
        "bot/answer/answerer.py",
        "        if confidence < self.threshold:",
        "        if confidence <= self.threshold:",
        ["tests/test_signals.py::test_a_confidence_at_min_score_answers_and_a_hair_below_abstains"],
    ),
    (
        "4 thread_idle_minutes read as seconds (local state)",
        "bot/chat/state.py",
        "ThreadMemory(config.thread_idle_minutes * 60)",
        "ThreadMemory(config.thread_idle_minutes)",
        ["tests/test_threads.py::test_threads_go_quiet_after_the_idle_minutes_the_settings_name"],
    ),
    (
        "4 thread_idle_minutes read as seconds (shared state)",
        "bot/chat/postgres.py",
        "SharedThreads(pool, config.thread_idle_minutes * 60)",
        "SharedThreads(pool, config.thread_idle_minutes)",
        [
            "tests/test_shared_state.py::test_shared_threads_go_quiet_after_the_idle_minutes_the_settings_name"
        ],
    ),
    (
        "4 the embedding cache looked up without the model",
        "index/build/cache.py",
        'f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})",\n                    [self.model_name, *batch],',
        'f"SELECT key, vector FROM vectors WHERE key IN ({marks})",\n                    [*batch],',
        ["tests/test_collection.py::test_the_embedding_cache_keeps_each_models_vectors_apart"],
    ),
    (
        "4 report --since counts votes of any age",
        "bot/chat/feedback.py",
        'f"WHERE v.created_at >= ? AND {IN_SCOPE',
        'f"WHERE ? IS NOT NULL AND {IN_SCOPE',
        ["tests/test_report.py::test_the_report_counts_questions_gaps_and_votes"],
    ),
    (
        "4 a Discord thread counts as its own channel, not its parent's",
        "bot/chat/discord/keys.py",
        "        return channel.parent_id",
        "        return channel.id",
        ["tests/test_discord_threads.py::test_each_channel_answers_from_its_collection"],
    ),
    (
        "5 CURRENT written in place instead of renamed",
        "index/storage/layout.py",
        '    replace_text(index_dir / POINTER, name + "\\n")',
        '    (index_dir / POINTER).write_text(name + "\\n")',
        ["tests/test_faults.py::test_a_disk_failing_at_any_step_of_an_add_leaves_the_index_whole"],
    ),
    (
        "6 the hot swap never swaps",
        "bot/collection.py",
        "        self.answerer.use_index(index)\n",
        "        pass\n",
        [
            "tests/slack/test_slack.py::test_admin_reindex_keeps_answering_then_swaps",
            "tests/test_discord.py::test_admin_reindex_swaps_while_answering",
        ],
    ),
    (
        "6 log lines not redacted",
        "bot/logs.py",
        "    handler.setFormatter(RedactingFormatter(formatter))",
        "    handler.setFormatter(formatter)",
        ["tests/test_ops.py::test_the_log_shows_no_secret_of_a_source_url"],
    ),
    (
        "7 one request id for every question",
        "bot/chat/service.py",
        "request_id = uuid.uuid4().hex[:12]",
        'request_id = "0" * 12',
        ["tests/test_ops.py::test_every_answer_is_logged_with_a_request_id_of_its_own"],
    ),
    (
        "7 a private /ask's later pieces sent for everyone to see",
        "bot/chat/discord/commands.py",
        "            ephemeral=private,",
        "            ephemeral=False,",
        ["tests/test_discord.py::test_a_private_answer_in_several_messages_is_private_in_each"],
    ),
    (
        "7 a retried Slack event answered again",
        "bot/chat/slack/app.py",
        "    app.middleware(answer_each_event_once)\n",
        "",
        ["tests/slack/test_slack.py::test_retried_event_is_answered_once"],
    ),
    (
        "7 Discord messages from bots answered",
        "bot/chat/discord/client.py",
        "        if message.author.bot or self.user is None:",
        "        if self.user is None:",
        ["tests/test_discord.py::test_bots_are_never_answered"],
    ),
    (
        "8 Discord's refusal of a reply left to discord.py's traceback",
        "bot/chat/discord/client.py",
        "    async def on_error(self, event_method: str, /, *args: object, **kwargs: object)",
        "    async def unused_on_error(self, event_method: str, /, *args: object, **kwargs: object)",
        ["tests/test_discord.py::test_a_channel_the_bot_may_not_post_in_is_named_in_the_log"],
    ),
    (
        "8 Slack's refusal of a reply left to Bolt's traceback",
        "bot/chat/slack/app.py",
        "    app.error(on_listener_error)\n",
        "",
        ["tests/slack/test_slack.py::test_a_channel_the_bot_was_removed_from_is_named_in_the_log"],
    ),
    (
        "10 summaries: the title not counted in the 600 characters",
        "index/build/summaries.py",
        "    return SUMMARY_CHARS - min(len(title), SUMMARY_TITLE_CHARS) - 2",
        "    return SUMMARY_CHARS",
        ["tests/test_summary.py::test_a_summary_with_its_title_stays_within_the_limit"],
    ),
    (
        "10 summaries: two sentences at most (the set search cut short)",
        "index/build/summaries.py",
        "    for size in (*range(2, SUMMARY_SENTENCES + 1), 1):",
        "    for size in (2,):",
        [
            "tests/test_discord_threads.py::test_the_bundled_articles_gist_in_discord",
            "tests/slack/test_slack.py::test_the_bundled_articles_gist_in_slack",
        ],
    ),
    (
        "11 answer quality: the sentence before a candidate not read",
        "bot/answer/answerer.py",
        "                rows.append(features(question, passage, sentence, previous))",
        "                rows.append(features(question, passage, sentence))",
        ["tests/test_signals.py::test_each_feature_on_a_hand_made_article"],
    ),
    (
        "11 answer quality: a terse question's last word not read for its kind",
        "bot/answer/highlight.py",
        "    return _first_kind(TERSE, question)",
        "    return None",
        ["tests/test_highlight.py::test_chat_questions_ask_for_a_kind"],
    ),
    (
        "11 answer quality: an abbreviation the articles do not spell out is an unknown name",
        "bot/answer/signals.py",
        "    if folded in lexicon.words or ABBREVIATION.match(name):",
        "    if folded in lexicon.words or lexicon.expansion(name) is not None:",
        ["tests/test_signals.py::test_a_name_in_a_form_of_its_own_is_not_unknown"],
    ),
    (
        "11 answer quality: a people or plural of an article's name is an unknown name",
        "bot/answer/signals.py",
        "    return any(len(stem) >= 4 and stem in lexicon.names for stem in stems)",
        "    return False",
        ["tests/test_signals.py::test_a_name_in_a_form_of_its_own_is_not_unknown"],
    ),
    (
        "11 answer quality: the sentence beside holding the asked-for date never added",
        "bot/answer/answerer.py",
        "        if len(chosen) == 1 and (neighbour := self._kind_neighbour(",
        "        if False and (neighbour := self._kind_neighbour(",
        ["tests/test_highlight.py::test_the_sentence_beside_gives_what_was_asked_for"],
    ),
    (
        "9 announcements: the archive posted at a channel's first check",
        "bot/chat/announced.py",
        "        return new if started or existing else []",
        "        return new",
        [
            "tests/test_announce.py::test_a_reindex_that_adds_two_articles_announces_each_once",
            "tests/test_announce.py::test_a_channels_first_check_records_the_archive",
        ],
    ),
    (
        "9 announcements: a publish of this process does not wake the announcer",
        "bot/collection.py",
        "                listener()",
        "                pass",
        ["tests/test_announce.py::test_a_reindex_that_adds_two_articles_announces_each_once"],
    ),
    (
        "9 announcements: no cap per publish",
        "bot/chat/announce.py",
        "for entry in entries[:most]]",
        "for entry in entries]",
        ["tests/test_announce.py::test_eight_new_articles_post_five_and_how_many_more"],
    ),
    (
        "9 announcements: Slack posts to Discord's channels too",
        "bot/chat/slack/announce.py",
        "    return not channel.isdigit()",
        "    return True",
        [
            "tests/slack/test_announce.py::"
            "test_a_scheduled_refresh_that_adds_two_articles_announces_each_once"
        ],
    ),
    (
        "9 announcements: every article announced again at each check (what a channel had is not read)",
        "bot/chat/announced.py",
        "if article_id not in had]",
        "]",
        [
            "tests/test_announce.py::test_a_channels_first_check_records_the_archive",
            "tests/test_announce.py::test_removed_or_changed_articles_are_not_announced",
        ],
    ),
    (
        "12 articles: a first line that reads as a paragraph is still the title",
        "index/sources/articles.py",
        "            if is_prose(first):",
        "            if False:",
        ["tests/test_articles.py::test_a_text_without_a_title_line_keeps_its_first_paragraph"],
    ),
    (
        "12 lexicon: a guess from initials used for an abbreviation the articles write",
        "index/storage/lexicon.py",
        "        if self.written is not None and token in self.written:",
        "        if False:",
        [
            "tests/test_lexicon.py::"
            "test_a_guess_from_initials_is_not_what_the_articles_own_abbreviation_means"
        ],
    ),
    (
        "12 lexicon: a bracket defines every word before it in its window",
        "index/storage/lexicon.py",
        "    for start in (i for i, w in enumerate(words) if w not in CONNECTORS):",
        "    for start in range(len(words)):",
        ["tests/test_lexicon.py::test_a_bracket_defines_the_words_before_it_that_spell_it"],
    ),
    (
        "12 lexicon: a bracket defines the words before it whatever their letters",
        "index/storage/lexicon.py",
        "    if any(w[:1].upper() == letters[0] for w in name):",
        "    if name:",
        ["tests/test_lexicon.py::test_a_bracket_defines_the_words_before_it_that_spell_it"],
    ),
    (
        "12 answer quality: a close runner-up holding the asked-for date not added",
        "bot/answer/answerer.py",
        "            adds = bool(other.terms - first.terms) or self._gives_kind(candidates, best, i)",
        "            adds = bool(other.terms - first.terms)",
        [
            "tests/test_highlight.py::test_a_close_runner_up_with_what_was_asked_for_comes_with_the_best"
        ],
    ),
    (
        "13 answer quality: a sentence that points back quoted without the one before",
        "bot/answer/answerer.py",
        "        quoted += [replace(scored[i], context=True) for i in referred]",
        "",
        ["tests/test_highlight.py::test_a_sentence_that_points_back_comes_with_the_one_before_it"],
    ),
    (
        "13 answer quality: every chosen sentence comes with the one before it",
        "bot/answer/answerer.py",
        " or not REFERS_BACK.match(scored[i].text):",
        ":",
        ["tests/test_highlight.py::test_a_sentence_that_points_back_comes_with_the_one_before_it"],
    ),
    (
        "13 answer quality: the sentence pointed back to added past the answer's length",
        "bot/answer/answerer.py",
        "            if self._fits([scored[j] for j in (*chosen, *added, before)]):",
        "            if True:",
        ["tests/test_highlight.py::test_a_sentence_that_points_back_comes_with_the_one_before_it"],
    ),
    (
        "13 highlight: the day or year of a date counted as a number asked for",
        "bot/answer/highlight.py",
        "        undated = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in dates)]",
        "        undated = [s for s in spans if not DATE.fullmatch(sentence[s[0] : s[1]])]",
        ["tests/test_highlight.py::test_dates_and_counts_in_words_are_found"],
    ),
    (
        '13 highlight: a chat question ending in "when" asks for no date',
        "bot/answer/highlight.py",
        "founded|founding|born|opened|when){END}",
        "founded|founding|born|opened){END}",
        ["tests/test_highlight.py::test_chat_questions_ask_for_a_kind"],
    ),
    (
        "13 highlight: a sentence quoted for context searched for the asked-for part",
        "bot/answer/answerer.py",
        "        span = answer_span(asked.text, quoted, [not s.context for s in chosen])",
        "        span = answer_span(asked.text, quoted, [True for s in chosen])",
        ["tests/test_highlight.py::test_a_sentence_quoted_for_context_lends_no_highlight"],
    ),
    (
        '13 answer quality: a source cited for the sentence quoted only for what "it" means',
        "bot/answer/answerer.py",
        "        if chunk.id not in sources and not sentence.context:",
        "        if chunk.id not in sources:",
        ["tests/test_highlight.py::test_a_sentence_that_points_back_comes_with_the_one_before_it"],
    ),
    (
        "13 reranker: its raw score added, below nothing for the ones it likes least",
        "bot/answer/rerank.py",
        "        added = dict(zip(best, self.settings.weight * (read - read.min()), strict=True))",
        "        added = dict(zip(best, self.settings.weight * read, strict=True))",
        ["tests/test_rerank.py::test_it_reads_each_sentence_once_and_adds_only_to_those_it_read"],
    ),
    (
        "18 reranker: a sentence that is a candidate twice read twice, in another's place",
        "bot/answer/rerank.py",
        "        best = list(dict.fromkeys(sentences[i] for i in order))[: self.settings.top]",
        "        best = list(dict.fromkeys(sentences[i] for i in order[: self.settings.top]))",
        ["tests/test_rerank.py::test_it_reads_each_sentence_once_and_adds_only_to_those_it_read"],
    ),
    (
        "13 reranker: the answerer never consults it",
        "bot/answer/answerer.py",
        "        if self.reranker is None or self.reader is not None or not len(evidence):",
        "        if True:",
        ["tests/test_rerank.py::test_the_answerer_has_it_unless_the_settings_turn_it_off"],
    ),
    (
        "13 reranker: abstention follows the reranked choice",
        "bot/answer/answerer.py",
        "        confidence = self._confidence(candidates, evidence)",
        "        confidence = min(s.evidence for s in quoted)",
        ["tests/test_rerank.py::test_the_answerer_has_it_unless_the_settings_turn_it_off"],
    ),
    (
        "13 reranker: a long question truncated as in training, only the sentence",
        "bot/answer/rerank.py",
        'strategy="longest_first"',
        'strategy="only_second"',
        [
            "tests/test_rerank.py::test_a_question_longer_than_it_reads_is_cut_not_refused",
            "tests/test_rerank.py::test_the_reranker_reads_any_question",
        ],
    ),
    (
        "13 training: the held-out articles indexed beside the train ones",
        "training/train_index.py",
        "        for article in sorted(allowed):",
        '        for article in sorted(p.stem for p in (shared / "eval" / name / "articles").glob("*.txt")):',
        ["tests/test_training_index.py::test_each_set_is_answered_from_its_train_articles_alone"],
    ),
    (
        "13 reranker: each answerer opens its own, not the one it is given",
        "bot/wiring.py",
        "    reranker = (reranker or make_reranker(settings)) if answer.reranker else None",
        "    reranker = make_reranker(settings) if answer.reranker else None",
        ["tests/test_rerank.py::test_answerers_share_the_reranker_they_are_given"],
    ),
    (
        "14 answer quality: a copy of the best sentence taken for its runner-up",
        "bot/answer/answerer.py",
        "    return next(([i] for i in order[1:] if scored[i].text != first), [])",
        "    return order[1:2]",
        ["tests/test_highlight.py::test_the_runner_up_is_another_sentence_not_a_copy_of_the_best"],
    ),
    (
        "14 answer quality: any number answers, whatever it measures",
        "bot/answer/highlight.py",
        "        return _measured(question, sentence, undated)",
        "        return undated",
        ["tests/test_highlight.py::test_a_number_must_measure_what_was_asked"],
    ),
    (
        "14 reranker: a sentence that points back read without the one before it",
        "bot/answer/rerank.py",
        '    before = f"{previous} " if previous and REFERS_BACK.match(sentence) else ""',
        '    before = ""',
        [
            "tests/test_rerank.py::test_a_sentence_is_read_after_its_title_and_what_it_points_back_to"
        ],
    ),
    (
        "14 reranker: a sentence read without its article's title",
        "bot/answer/rerank.py",
        '    return f"{title}: {before}{sentence}"',
        '    return f"{before}{sentence}"',
        [
            "tests/test_rerank.py::test_a_sentence_is_read_after_its_title_and_what_it_points_back_to"
        ],
    ),
    (
        "18 training: no candidate marked as holding the gold answer",
        "training/train_index.py",
        "            yield row, candidates, np.array([contains_gold(t, answers) for t in texts], bool)",
        "            yield row, candidates, np.zeros(len(texts), bool)",
        [
            "tests/test_training_rerank.py::"
            "test_a_group_is_the_evidences_best_candidates_with_the_gold_ones_marked",
            "tests/test_weighing.py",
        ],
    ),
    (
        "15 training: the held-out fold trained on as well",
        "training/rerank.py",
        "    return [g for g in groups if fold_of(g.article) != fold], held",
        "    return list(groups), held",
        ["tests/test_training_rerank.py::test_a_held_out_fold_is_never_trained_on"],
    ),
    (
        "16 answer quality: an answer without the date or number asked for as sure as one with it",
        "bot/answer/answerer.py",
        "        return 0.0 if holds else self.config.missing_kind_penalty",
        "        return 0.0",
        [
            "tests/test_signals.py::test_an_answer_without_what_was_asked_for_is_less_sure",
            "tests/test_signals.py::test_a_question_the_article_does_not_answer_abstains",
        ],
    ),
    (
        '16 answer quality: "on Monday" no date to an answer that must hold one',
        "bot/answer/answerer.py",
        "typed_spans(question.text, s.text, relative=True)",
        "typed_spans(question.text, s.text)",
        ["tests/test_signals.py::test_an_answer_without_what_was_asked_for_is_less_sure"],
    ),
    (
        "17 answer quality: a yes-or-no question answered by a sentence that does not say what it asks",
        "bot/answer/answerer.py",
        "            holds = said >= YES_OR_NO_SAID",
        "            holds = True",
        [
            "tests/test_signals.py::test_an_answer_without_what_was_asked_for_is_less_sure",
            "tests/test_signals.py::test_a_question_the_article_does_not_answer_abstains",
        ],
    ),
    (
        "17 answer quality: the sentence after the best quoted though what it holds is cut off",
        "bot/answer/answerer.py",
        "            if ends and len(scored[best].text) + 1 + min(ends) + 1 < self.config.answer_max_chars:",
        "            if ends:",
        [
            "tests/test_highlight.py::test_the_sentence_after_gives_what_was_asked_for_even_if_cut_short"
        ],
    ),
    (
        "17 answer quality: the sentence after the best left out when both do not fit",
        "bot/answer/answerer.py",
        '                return after  # what it holds ends before the cut (and its "…")',
        "                return None",
        [
            "tests/test_highlight.py::test_the_sentence_after_gives_what_was_asked_for_even_if_cut_short"
        ],
    ),
    (
        "17 answer quality: only a question that opens with is, was or did read as yes or no",
        "bot/answer/highlight.py",
        '    return bool(YES_OR_NO.match(CLAUSE_FIRST.sub("", question, count=1)))',
        '    return bool(re.search(r"\\b(is|was|did)\\b", question, re.IGNORECASE))',
        [
            "tests/test_highlight.py::test_a_yes_or_no_question_is_told_from_others",
            "tests/test_signals.py::test_an_answer_without_what_was_asked_for_is_less_sure",
        ],
    ),
    (
        "16 highlight: a terse form read in a question that asks why, how, or yes or no",
        "bot/answer/highlight.py",
        '    if ASKS_ELSE.match(question) or len(IN_BRACKETS.sub("", question).split()) > TERSE_MAX_WORDS:',
        '    if len(IN_BRACKETS.sub("", question).split()) > TERSE_MAX_WORDS:',
        ["tests/test_highlight.py::test_chat_questions_ask_for_a_kind"],
    ),
    (
        "16 highlight: an abbreviation's spelling out counted as words of the question",
        "bot/answer/highlight.py",
        'len(IN_BRACKETS.sub("", question).split())',
        "len(question.split())",
        ["tests/test_highlight.py::test_chat_questions_ask_for_a_kind"],
    ),
    (
        "16 highlight: a clause before the question word read as what is asked",
        "bot/answer/highlight.py",
        '    question = CLAUSE_FIRST.sub("", question, count=1)',
        "",
        ["tests/test_highlight.py::test_chat_questions_ask_for_a_kind"],
    ),
    (
        '16 highlight: what is counted read from the one word after "how many"',
        "bot/answer/highlight.py",
        "(?:\\s+\\w+){1,3}",
        "(?:\\s+\\w+){1}",
        ["tests/test_highlight.py::test_a_number_must_measure_what_was_asked"],
    ),
    (
        '16 highlight: "last year" highlighted beside a date that says which year',
        "bot/answer/highlight.py",
        "    spans = named or spans",
        "    spans = spans",
        ["tests/test_highlight.py::test_a_date_that_says_which_year_is_preferred_to_last_year"],
    ),
    (
        "18 answer quality: the confidence counts how near the passage is",
        "bot/answer/answerer.py",
        '        weights[[FEATURES.index("passage_cosine"), FEATURES.index("context_coverage")]] = 0.0',
        '        weights[[FEATURES.index("context_coverage")]] = 0.0',
        [
            "tests/test_signals.py::"
            "test_how_sure_an_answer_is_reads_its_sentences_not_how_near_their_passage_is"
        ],
    ),
    (
        "18 answer quality: the confidence counts what the sentence before adds",
        "bot/answer/answerer.py",
        '        weights[[FEATURES.index("passage_cosine"), FEATURES.index("context_coverage")]] = 0.0',
        '        weights[[FEATURES.index("passage_cosine")]] = 0.0',
        [
            "tests/test_signals.py::"
            "test_how_sure_an_answer_is_reads_its_sentences_not_how_near_their_passage_is"
        ],
    ),
    (
        "18 answer quality: a question for the latest news needs a sentence that answers",
        "bot/answer/answerer.py",
        "        if self.reader is not None or NEWS_ON.search(candidates.question.text):",
        "        if self.reader is not None:",
        ["tests/lifecycle/test_articles.py::test_latest_news_prefers_newer_articles"],
    ),
    (
        "18 answer quality: any question that says the latest read as a request for the news",
        "bot/answer/answerer.py",
        '    r"\\s+(?:on|about|with|from|for|regarding|concerning)\\b"',
        '    r""',
        [
            "tests/test_signals.py::"
            "test_a_request_for_the_latest_news_is_told_from_a_question_that_says_today"
        ],
    ),
    (
        "18 training: the reranker's optimizer never steps",
        "training/rerank.py",
        "        optimizer.step()",
        "        pass",
        ["tests/test_training_rerank.py::test_a_few_training_steps_lower_the_loss"],
    ),
    (
        "18 model card: the data's licence not named",
        "bot/answer/reranker/MODEL_CARD.md",
        "text from Wikipedia; licence CC BY-SA 4.0)",
        "text from Wikipedia)",
        [
            "tests/test_rerank.py::"
            "test_its_model_card_names_the_base_model_the_data_the_split_and_the_command"
        ],
    ),
]


def run(label: str, path: str, code: str, mutated: str, tests: list[str]) -> bool:
    """Whether the tests fail with the mutation in place (printed with pytest's summary)."""
    file = ROOT / path
    saved = file.read_text()
    if code not in saved:
        raise SystemExit(f"{label}: {path} no longer holds the code this mutation changes")
    file.write_text(saved.replace(code, mutated, 1))
    try:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    finally:
        file.write_text(saved)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    print(f"{'CAUGHT' if done.returncode else 'MISSED'} | {label} | {summary}", flush=True)
    return done.returncode != 0


def main(wanted: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not wanted or any(w in m[0] for w in wanted)]
    caught = [run(*mutation) for mutation in chosen]
    return 0 if all(caught) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
