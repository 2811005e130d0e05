"""The `articlebot` command line.

Exit status: 0 on success (an abstention is a success), 2 for bad usage or
bad input (one line on stderr), 1 for other failures (a clear message; the
traceback only with --debug).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from typer.exceptions import TyperException

from bot.answer.records import Answer, shorten
from bot.chat.messages import NOT_FOUND_HINT
from bot.errors import QuestionError, SourcesFailedError, UsageError
from bot.settings import Settings, load_settings
from index.errors import ArticleBotError, IndexMissingError, NoArticlesError
from index.progress import Progress

if TYPE_CHECKING:
    from bot.chat.feedback import FeedbackReport, FeedbackStore

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Answer questions about news articles, quoting and citing the passage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
index_app = typer.Typer(help="Build and inspect the article index.", no_args_is_help=True)
app.add_typer(index_app, name="index")
serve_app = typer.Typer(help="Run a chat bot.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
discord_app = typer.Typer(help="Discord set-up helpers.", no_args_is_help=True)
app.add_typer(discord_app, name="discord")
slack_app = typer.Typer(help="Slack set-up helpers.", no_args_is_help=True)
app.add_typer(slack_app, name="slack")

IndexDirOption = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        help="Index directory (default: $ARTICLEBOT_INDEX_DIR, else the configured one).",
        file_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object per question.")]
TopKOption = Annotated[
    int | None, typer.Option("--top-k", min=1, max=50, help="Passages to retrieve.")
]
CollectionOption = Annotated[
    str | None,
    typer.Option(
        "--collection",
        metavar="NAME",
        help="A [collections.NAME] of the settings file (default: the top-level sources).",
    ),
]
FileOption = Annotated[
    str | None,
    typer.Option("--file", help="Read one question per line from FILE ('-' = standard input)."),
]


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="ARTICLEBOT_CONFIG", help="Settings file (TOML) to read."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and tracebacks.")] = False,
) -> None:
    ctx.obj = {"config": config, "progress": Progress(shown=sys.stderr.isatty())}
    from bot.logs import configure_logging

    serving = ctx.invoked_subcommand == "serve"
    try:
        settings = _settings(ctx)
    except (ValidationError, ArticleBotError) as exc:
        if ctx.invoked_subcommand != "check":
            raise
        _settings_problems(exc)
    configure_logging(debug, settings.log_format == "json", serving)


def _settings_problems(exc: ValidationError | ArticleBotError) -> None:
    """For `check`: each thing wrong with the settings on its own line, then exit 2."""
    from bot.process.check import problem

    if isinstance(exc, ValidationError):
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    else:
        lines = [str(exc)]
    for line in lines:
        typer.echo(problem(f"settings: {line}").line())
    raise typer.Exit(2)


def _progress(ctx: typer.Context) -> Progress:
    """The command's one progress display: bars when stderr is a terminal."""
    return ctx.obj["progress"]


def _settings(ctx: typer.Context, collection: str | None = None, **overrides: object) -> Settings:
    """The settings, as one collection sees them when `collection` is given; explicit
    options (e.g. --index-dir) still win."""
    settings = load_settings(ctx.obj["config"]).for_collection(collection)
    given = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=given) if given else settings


# --- index ---------------------------------------------------------------------------------


@index_app.command("build")
def index_build(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Files, directories and URLs (default: the configured sources)."),
    ] = None,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
) -> None:
    """Build the index from scratch out of SOURCEs and make it current."""
    from bot.wiring import build_from_sources, make_embedder

    settings = _settings(ctx, collection, index_dir=index_dir)
    embedder = make_embedder(settings)
    target = settings.resolved_index_dir
    report = build_from_sources(
        settings,
        embedder,
        target,
        sources or settings.resolved_sources,
        progress=_progress(ctx),
    )
    manifest = report.manifest
    assert manifest is not None
    typer.echo(
        f"Indexed {len(manifest.articles)} article(s), {manifest.chunk_count} chunk(s) "
        f"into {target} (version {manifest.version}) in {report.seconds:.1f} s."
    )
    if report.failures:
        for failure in report.failures:
            typer.echo(f"not indexed: {failure.source}: {failure.reason}", err=True)
        raise SourcesFailedError(f"{len(report.failures)} source(s) could not be indexed")


def _collection(ctx: typer.Context, index_dir: Path | None, name: str | None):
    from bot.wiring import make_embedder, make_index_directory

    settings = _settings(ctx, name, index_dir=index_dir)
    embedder = make_embedder(settings)
    return settings, make_index_directory(
        settings, embedder, settings.resolved_index_dir, progress=_progress(ctx)
    )


def _why_built(report) -> str:
    if report.settings_changed:
        return " (rebuilt: the build settings differ from the last version's)"
    if report.by_hand_changed and not (report.added or report.updated or report.removed):
        return " (a new version: which articles were added by hand changed)"
    return "" if report.changed else " (nothing changed, no new version)"


def _summary(report, failures: list) -> None:
    """One summary line, failures by name, and a non-zero exit if any failed."""
    manifest = report.manifest
    version = f", version {manifest.version}" if manifest else ""
    typer.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, removed "
        f"{len(report.removed)}, unchanged {report.unchanged}, failed {len(failures)} "
        f"in {report.seconds:.1f} s{version}" + _why_built(report)
    )
    for failure in failures:
        typer.echo(f"not indexed: {failure.source}: {failure.reason}", err=True)
    if failures:
        raise SourcesFailedError(f"{len(failures)} source(s) could not be indexed")


SourcesArgument = Annotated[list[str], typer.Argument(help="Files, directories and URLs.")]


@index_app.command("add")
def index_add(
    ctx: typer.Context,
    sources: SourcesArgument,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
) -> None:
    """Add new articles and update changed ones; unchanged text is not embedded again.
    They are yours: `index sync` keeps them until `index remove`."""
    from bot.wiring import load_sources

    settings, store = _collection(ctx, index_dir, collection)
    articles, failures = load_sources(settings, sources, progress=store.progress)
    if not articles:
        reasons = "; ".join(f"{f.source}: {f.reason}" for f in failures)
        raise NoArticlesError(f"nothing to add, the index is unchanged ({reasons})")
    _summary(store.add(articles, by_hand=True), failures)


@index_app.command("sync")
def index_sync(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None, typer.Argument(help="Default: the configured sources.")
    ] = None,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
) -> None:
    """Make the index hold SOURCEs and the articles added by hand: add new, update
    changed, remove the rest."""
    from bot.wiring import make_embedder, sync_from_sources

    settings = _settings(ctx, collection, index_dir=index_dir)
    report, failures = sync_from_sources(
        settings,
        make_embedder(settings),
        settings.resolved_index_dir,
        sources or settings.resolved_sources,
        progress=_progress(ctx),
    )
    _summary(report, failures)


@index_app.command("remove")
def index_remove(
    ctx: typer.Context,
    articles: Annotated[list[str], typer.Argument(help="Article ids (see `index list`).")],
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
) -> None:
    """Remove articles; they are never cited again."""
    _, store = _collection(ctx, index_dir, collection)
    _summary(store.remove(articles), [])


@index_app.command("list")
def index_list(
    ctx: typer.Context,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """The indexed articles: id, title, source, date, chunks, added at."""
    from index.build.directory import read_current

    settings = _settings(ctx, collection, index_dir=index_dir)
    current = read_current(settings.resolved_index_dir)
    if current is None:
        raise IndexMissingError(f"no index at {settings.resolved_index_dir}")
    rows = current[0].articles
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        date = row.get("published") or "undated"
        by_hand = " by hand" if row.get("by_hand") else ""
        typer.echo(f"{row['id']}  {date}  {row['chunks']} chunks  added{by_hand} {row['added_at']}")
        typer.echo(f"    {row['title']}\n    {row['source']}")


@index_app.command("status")
def index_status(
    ctx: typer.Context,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Counts, model, size on disk, build time and version of the index."""
    from index.build.directory import index_status
    from index.build.freshness import SourceStates

    folder = _settings(ctx, collection, index_dir=index_dir).resolved_index_dir
    status = index_status(folder)
    sources = SourceStates.load(folder).report()
    if as_json:
        typer.echo(json.dumps({**status, "sources": sources}, indent=2))
        return
    width = max(map(len, status))
    for key, value in status.items():
        typer.echo(f"{key:<{width}}  {value}")
    for source, record in sources.items():
        fields = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record.items() if v)
        typer.echo(f"{'source':<{width}}  {source}: {fields or 'not refreshed yet'}")


@index_app.command("rollback")
def index_rollback(
    ctx: typer.Context, index_dir: IndexDirOption = None, collection: CollectionOption = None
) -> None:
    """Make the previous version current again (running bots pick it up)."""
    from index.build.directory import rollback

    name = rollback(_settings(ctx, collection, index_dir=index_dir).resolved_index_dir)
    typer.echo(f"Rolled back to version {name}.")


# --- ask and search ----------------------------------------------------------------------


def _questions(question: str | None, file: str | None) -> Iterator[str]:
    if (question is None) == (file is None):
        raise UsageError("give either a QUESTION or --file FILE")
    if question is not None:
        yield question
        return
    if file == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            yield line


def _answerer(settings: Settings, embedder=None):
    """The configured index's answerer; the default index is built on first use."""
    from bot.wiring import open_answerer

    return open_answerer(settings, embedder, bootstrap=settings.index_dir is None)


def _each_question(questions: Iterator[str], handle) -> None:
    """Run `handle` on every question; a bad one is reported and the rest still run."""
    failed = 0
    for question in questions:
        try:
            handle(question)
        except QuestionError as exc:
            failed += 1
            typer.echo(f"articlebot: error: {exc}", err=True)
        sys.stdout.flush()
    if failed:
        raise typer.Exit(2)


def _show(answer: Answer, as_json: bool) -> None:
    """An answer as one JSON line, or as text with its sources."""
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        _print_answer(answer)


def _print_answer(answer: Answer) -> None:
    for note in answer.notes:
        typer.echo(f"({note})")
    typer.echo(answer.marked("**"))
    if answer.abstained:
        typer.echo(NOT_FOUND_HINT)
        return
    if not answer.sources:  # a list of articles, or the question of which one
        return
    typer.echo("\nSources:")
    for n, passage in enumerate(answer.sources, 1):
        date = f", {passage.article.published}" if passage.article.published else ""
        typer.echo(f"  [{n}] {passage.article.title}{date} (score {passage.score:.2f})")
        typer.echo(f'      "{passage.quote(300)}"')
        typer.echo(f"      {passage.article.source}")


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    file: FileOption = None,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
    top_k: TopKOption = None,
) -> None:
    """Answer QUESTION (or each line of --file) from the articles, citing the passages."""
    questions = _questions(question, file)
    answerer = _answerer(_settings(ctx, collection, index_dir=index_dir))

    def handle(text: str) -> None:
        _show(answerer.answer(text, top_k), as_json)

    _each_question(questions, handle)


@app.command()
def summary(
    ctx: typer.Context,
    words: Annotated[str | None, typer.Argument(help="A few words of the article's title.")] = None,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
) -> None:
    """The gist of an article: its title and a few of its sentences, cited.

    The article is the only one, or the one WORDS name; with several and no WORDS,
    the list to choose from."""
    from bot.answer.intent import summary_message

    answerer = _answerer(_settings(ctx, collection, index_dir=index_dir))
    _show(answerer.answer(summary_message(words or "")), as_json)


@app.command()
def search(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    file: FileOption = None,
    index_dir: IndexDirOption = None,
    collection: CollectionOption = None,
    as_json: JsonOption = False,
    top_k: TopKOption = None,
) -> None:
    """Show the passages retrieved for QUESTION, without composing an answer."""
    from bot.answer.question import prepare_question

    questions = _questions(question, file)
    answerer = _answerer(_settings(ctx, collection, index_dir=index_dir))

    def handle(text: str) -> None:
        prepared = prepare_question(text, answerer.config.question_max_chars)
        passages = answerer.search(prepared.text, top_k)
        if as_json:
            rows = [p.to_dict() for p in passages]
            typer.echo(
                json.dumps({"question": prepared.text, "passages": rows}, ensure_ascii=False)
            )
            return
        typer.echo(prepared.text)
        for p in passages:
            typer.echo(f"  {p.rank}. {p.score:.3f}  {p.article.title}: {p.quote(160)}")

    _each_question(questions, handle)


@app.command("eval")
def evaluate_command(
    ctx: typer.Context,
    questions: Annotated[Path, typer.Argument(help="Questions with gold answers (JSON Lines).")],
    articles: Annotated[
        Path | None,
        typer.Option("--articles", help="Index this directory first (kept under the data dir)."),
    ] = None,
    index_dir: IndexDirOption = None,
    top_k: TopKOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure retrieval (BM25, dense, hybrid) and answers against gold answers."""
    from bot.answer.evaluation import evaluate, format_report, read_questions
    from bot.wiring import load_index, make_answerer, make_embedder, sync_from_sources
    from index.sources.articles import slugify

    try:
        gold = read_questions(questions)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    settings = _settings(ctx, index_dir=index_dir)
    embedder = make_embedder(settings)
    target = settings.resolved_index_dir
    if articles is not None:
        target = index_dir or settings.data_dir / "eval" / slugify(str(articles.resolve()))
        sync_from_sources(settings, embedder, target, [str(articles)], progress=_progress(ctx))
    answerer = make_answerer(settings, load_index(settings, embedder, target))
    result = evaluate(answerer, gold, top_k or settings.top_k)
    typer.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@app.command()
def chat(
    ctx: typer.Context, index_dir: IndexDirOption = None, collection: CollectionOption = None
) -> None:
    """Ask questions at a prompt; picks up newly published index versions as it goes."""
    from bot.collection import watch_index
    from bot.wiring import make_embedder

    settings = _settings(ctx, collection, index_dir=index_dir)
    embedder = make_embedder(settings)
    answerer = _answerer(settings, embedder)
    watcher = watch_index(answerer, settings, embedder)
    typer.echo("Ask about the articles (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("> ")
        except EOFError:
            break
        if not question.strip():
            break
        watcher.refresh()
        try:
            _print_answer(answerer.answer(question))
        except QuestionError as exc:
            typer.echo(str(exc))
        typer.echo()


# --- chat bots ------------------------------------------------------------------------------


@serve_app.command("discord")
def serve_discord(ctx: typer.Context, index_dir: IndexDirOption = None) -> None:
    """Run the Discord bot (token from DISCORD_TOKEN or the settings file)."""
    from bot.process.launcher import run_discord

    run_discord(_settings(ctx, index_dir=index_dir))


@serve_app.command("slack")
def serve_slack(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="HTTP mode: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP mode: port to listen on.")] = 3000,
    index_dir: IndexDirOption = None,
) -> None:
    """Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP at /slack/events."""
    from bot.process.launcher import run_slack

    run_slack(_settings(ctx, index_dir=index_dir), host, port)


@contextmanager
def recorded_feedback(settings: Settings) -> Iterator[FeedbackStore | None]:
    """What the bots recorded, where `state_url` keeps it; None when no bot has recorded
    anything in this data_dir yet (reading creates nothing)."""
    from bot.wiring import open_state

    if settings.state_url is None and not settings.feedback_path.exists():
        yield None
        return
    state = open_state(settings)
    try:
        yield state.feedback
    finally:
        state.close()


@app.command()
def feedback(ctx: typer.Context) -> None:
    """Summarise the Helpful / Not helpful votes on the bots' answers."""
    settings = _settings(ctx)
    with recorded_feedback(settings) as store:
        if store is None:
            typer.echo(f"No feedback yet ({settings.feedback_path} does not exist).")
            return
        summary = store.summary()
    share = f" ({summary.helpful / summary.votes:.0%} helpful)" if summary.votes else ""
    typer.echo(f"Answers given: {summary.answers}")
    typer.echo(
        f"Votes: {summary.votes}: {summary.helpful} helpful, {summary.not_helpful} not{share}"
    )
    if summary.recent_not_helpful:
        typer.echo("Recent answers voted not helpful:")
        for question, answer in summary.recent_not_helpful:
            typer.echo(f"  Q: {question}\n  A: {shorten(answer, 160)}")


SINCE = re.compile(r"^(\d+)([mhdw])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(since: str, now: float) -> float | None:
    """`7d`, `24h`, `30m` or `2w` ago, as epoch seconds; `all`: None."""
    if since == "all":
        return None
    match = SINCE.match(since.strip())
    if not match:
        raise UsageError(f"--since {since!r}: give a number and m, h, d or w (e.g. 7d), or all")
    return now - int(match.group(1)) * UNIT_SECONDS[match.group(2)]


@app.command()
def report(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="How far back: 30m, 24h, 7d, 2w, or all.", metavar="AGE")
    ] = "7d",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the report as CSV.")] = False,
    collection: CollectionOption = None,
) -> None:
    """Questions asked, how many went unanswered and which, votes, and the answers
    voted not helpful with their sources (of one collection with --collection)."""
    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    start = parse_since(since, time.time())
    settings = _settings(ctx, collection)  # an unknown collection is an error, not 0 questions
    with recorded_feedback(settings) as store:
        if store is None:
            typer.echo(f"No questions recorded yet ({settings.feedback_path} does not exist).")
            return
        found = store.report(start, collection=collection)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    elif as_csv:
        _report_csv(found)
    else:
        _report_text(found, since)


def _report_text(found: FeedbackReport, since: str) -> None:
    period = "all recorded questions" if found.since is None else f"the last {since}"
    rate = f" ({found.abstention_rate:.0%})" if found.questions else ""
    where = f", collection {found.collection}" if found.collection else ""
    typer.echo(f"Report for {period}{where}")
    typer.echo(f"Questions asked: {found.questions}; not answered: {found.not_answered}{rate}")
    typer.echo(f"Votes: {found.helpful} helpful, {found.not_helpful} not helpful")
    if found.unanswered:
        typer.echo("Most asked questions the articles did not answer:")
        for question, count in found.unanswered:
            typer.echo(f"  {count:>4}  {question}")
    if found.voted_down:
        typer.echo("Answers voted not helpful:")
        for down in found.voted_down:
            typer.echo(f"  Q: {down.question}  ({down.votes} not helpful)")
            typer.echo(f"  A: {shorten(down.answer, 160)}")
            for source in down.sources:
                typer.echo(f"     {source}")


def _report_csv(found: FeedbackReport) -> None:
    """One row per figure and per listed question: kind, question, count, answer, sources.
    Questions come from any chat user and answers from article text, so no cell may
    start a spreadsheet formula (`spreadsheet_cell`)."""
    rows: list[list[object]] = [["kind", "question", "count", "answer", "sources"]]
    for kind in ("questions", "not_answered", "helpful", "not_helpful"):
        rows.append([kind, "", getattr(found, kind), "", ""])
    for question, count in found.unanswered:
        rows.append(["unanswered", question, count, "", ""])
    for down in found.voted_down:
        sources = "; ".join(down.sources)
        rows.append(["voted_down", down.question, down.votes, down.answer, sources])
    # every cell quoted: a bare carriage return inside one would start a new row
    out = csv.writer(sys.stdout, lineterminator="\n", quoting=csv.QUOTE_ALL)
    out.writerows([spreadsheet_cell(cell) for cell in row] for row in rows)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """The cell as text a spreadsheet shows rather than runs: one that would start a
    formula gets a leading `'` (OWASP's advice against CSV injection)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@discord_app.command("invite-url")
def discord_invite_url(
    ctx: typer.Context,
    application_id: Annotated[
        int | None,
        typer.Option(help="Application ID (default: DISCORD_APPLICATION_ID or the settings)."),
    ] = None,
) -> None:
    """Print the OAuth2 URL that invites the bot with exactly the access it needs."""
    from bot.chat.discord.client import invite_url

    app_id = application_id or _settings(ctx).discord_application_id
    if app_id is None:
        raise UsageError("give --application-id or set DISCORD_APPLICATION_ID")
    typer.echo(invite_url(app_id))


@app.command("check")
def check(
    ctx: typer.Context,
    platforms: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[discord|slack]...", help="Platforms (default: each whose token is set)."
        ),
    ] = None,
) -> None:
    """Say what would stop a bot from working, before starting it: settings, indexes
    and model, sources, tokens, scopes and intents. Exit 0 when all is well, else 2."""
    from bot.process.check import PLATFORMS, ok, preflight

    unknown = sorted(set(platforms or []) - set(PLATFORMS))
    if unknown:
        raise UsageError(f"no platform named {', '.join(unknown)} (there are: discord, slack)")
    findings = [ok("settings: valid"), *preflight(_settings(ctx), platforms or [])]
    for finding in findings:
        typer.echo(finding.line())
    if not all(finding.ok for finding in findings):
        raise typer.Exit(2)


@slack_app.command("manifest")
def slack_manifest(
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="For Socket Mode (no public address).")
    ] = False,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="The public address of `serve slack` (HTTP mode; /slack/events is added).",
        ),
    ] = None,
) -> None:
    """Print the Slack app manifest that matches this app (commands, events, scopes)."""
    from bot.chat.slack.manifest import manifest_yaml

    if socket_mode and url:
        raise UsageError("--socket-mode and --url exclude each other")
    if url and not url.startswith("https://"):
        raise UsageError("--url must be an https:// address (Slack sends only to HTTPS)")
    typer.echo(manifest_yaml(url, socket_mode=socket_mode), nl=False)


# --- entry point -------------------------------------------------------------------------


def _fail(message: str, code: int) -> int:
    typer.echo(f"articlebot: error: {message}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of raising. An error
    of ArticleBot exits with its own code (2: the input, 1: the environment)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # without standalone mode, typer returns an Exit's status instead of raising it
        status = app(args=args, prog_name="articlebot", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 130
    except TyperException as exc:  # usage errors: bad option, missing argument
        exc.show()
        return 2
    except ValidationError as exc:
        _traceback(debug)
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _fail(f"invalid settings: {problems}", 2)
    except ArticleBotError as exc:
        _traceback(debug)
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:
        _traceback(debug)
        hint = "" if debug else " (run with --debug for details)"
        return _fail(f"{exc.__class__.__name__}: {exc}{hint}", 1)
    return status if isinstance(status, int) else 0


def _traceback(debug: bool) -> None:
    """Under --debug, every error shows where it came from."""
    if debug:
        log.error("traceback", exc_info=True)


if __name__ == "__main__":
    sys.exit(main())
