"""The `grader` command line (click). Heavy imports wait until a command needs them."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import click

from graders import ROOT

def _config(ctx: click.Context):
    from graders.config import ConfigError, load
    try:
        return load(ctx.obj["config"])
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _choose(ctx, name: str | None, hint: str | None = None):
    """(config, assignment id): the one named, the one the submission names, or the only one."""
    config = _config(ctx)
    chosen = name or hint or (next(iter(config.assignments)) if len(config.assignments) == 1
                              else None)
    if chosen is None:
        _fail("cannot tell which assignment this is; name it with -a "
              f"({', '.join(config.assignments)}).")
    return config, chosen


def _load(config, chosen: str):
    from graders.assignment import load_assignment
    from graders.config import ConfigError
    try:
        return load_assignment(config, chosen)
    except ConfigError as exc:
        _fail(str(exc))


def _assignment(ctx, name: str | None, hint: str | None = None):
    config, chosen = _choose(ctx, name, hint)
    return config, _load(config, chosen)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              default=lambda: Path("grader.toml") if Path("grader.toml").exists()
              else ROOT / "grader.toml", show_default="./grader.toml, else the repository's",
              help="The course configuration: assignments, points, tolerances, limits.")
@click.pass_context
def main(ctx: click.Context, config: Path) -> None:
    """Grade notebooks of the efficient deep-learning course against computed answer keys.

    Students: `grader check my.ipynb` runs your notebook in a sandbox and shows what passes.
    Instructors: `grader grade submissions/ -o out/` grades a whole class into HTML reports
    and a gradebook. `grader list` shows the assignments; `grader key` shows an answer key.
    """
    ctx.obj = {"config": config}


@main.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List the assignments and their problems with points.

    For each problem: its automatic checks and their points, and the free-text parts an
    instructor grades by hand. Everything comes from grader.toml (see --config)."""
    config = _config(ctx)
    for name, a in config.assignments.items():
        extra = f" + {a.extra_credit:g} extra credit" if a.extra_credit else ""
        cap = f", capped at {a.points:g}" if a.cap else ""
        click.secho(f"{name}: {a.title} — {a.points:g} points{extra}{cap}", bold=True)
        if a.scale != 1:
            click.echo(f"         problems carry the handout's {a.handout_points:g} points; "
                       f"marks scale x{a.scale:g} to {a.points:g} (extra credit does not)")
        for policy in _policy_lines(a.policies):
            click.echo(f"         policy: {policy}")
        if not a.problems:
            click.echo("         no graded problems yet: `grader key` shows its computed key")
        true_false = a.key_params.get("true_false")
        for pid, p in a.problems.items():
            parts = ", ".join(f"{k} {v:g}" for k, v in p.checks.items())
            manual = ", ".join(f"{k} {v:g}" for k, v in p.manual.items())
            kind = "extra" if p.extra_credit else "pts"
            line = f"  {pid:>5}  {p.points:>4g} {kind:<5} auto: {parts or '-'}"
            if true_false is not None and TRUE_FALSE_CHECK in p.checks:
                line += ("   (T/F key shipped)" if pid in true_false else
                         f"   (no T/F key: answer graded by hand until "
                         f'[assignments.{name}.key.true_false] "{pid}" is set)')
            click.echo(line + (f"   manual: {manual}" if manual else ""))


#: The check of a True/False statement; its key is [assignments.ID.key.true_false]."N".
TRUE_FALSE_CHECK = "answer"


def _policy_lines(policies) -> list[str]:
    lines = []
    if policies.zip_penalty:
        lines.append(f"{policies.zip_penalty:.0%} deducted for a submission uploaded as a zip")
    if policies.late:
        late = policies.late
        lines.append(f"late: {late.per_day:.0%} per day after {late.free_days:g} free day(s)"
                     + (f", no credit after {late.max_days:g}" if late.max_days != float("inf")
                        else "") + " (days_late from the --manual CSV)")
    return lines


@main.command()
@click.argument("assignment")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/out/keys"), show_default=True,
              help="Folder for the HTML answer key.")
@click.option("--rebuild", is_flag=True, help="Recompute the key even if it is cached.")
@click.pass_context
def key(ctx: click.Context, assignment: str, output: Path, rebuild: bool) -> None:
    """Print ASSIGNMENT's answer key and write it as HTML (instructors only: it is the key)."""
    from graders.assignment import load_assignment
    from graders.config import ConfigError
    from graders.keyview import key_text, write_key_html
    config = _config(ctx)
    try:
        loaded = load_assignment(config, assignment, rebuild_key=rebuild)
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(key_text(loaded))
    path = write_key_html(loaded, output / f"{assignment}-key.html")
    click.secho(f"HTML answer key: {path}", fg="green")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-a", "--assignment", help="Assignment id (default: from the notebook).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the report [default: reports/out/check/NAME].")
@click.pass_context
def check(ctx: click.Context, file: Path, assignment: str | None, output: Path | None) -> None:
    """Self-check one submission (.ipynb, .py or answers.toml) before you hand it in.

    Runs your code in a sandboxed worker, prints a table of what passes, and writes an HTML
    report. Exit code 0 when it could be graded, 2 when the file could not be read.
    """
    from graders.submission import SubmissionError, load
    try:
        submission = load(file)
    except SubmissionError as exc:
        _fail(str(exc))
    config, chosen = _choose(ctx, assignment, submission.assignment_hint)
    from graders.config import ConfigError
    from graders.grading import grade as grade_one
    from graders.sandbox.isolation import detect
    from graders.sandbox.pool import WorkerPool
    isolation = detect()  # a self-check holds no keys worth stealing: whatever works will do
    try:
        preload = config.assignment(chosen).preload
    except ConfigError as exc:
        _fail(str(exc))
    with WorkerPool(1, preload, isolation, config.limits.memory_mb) as pool:
        loaded = _load(config, chosen)  # the worker starts up meanwhile
        result = grade_one(file, loaded, pool, config.limits, "student", isolation.describe())
    _print_table(result)
    folder = output or Path("reports/out/check") / result.student
    from graders.report import write_result
    report = write_result(result, folder)
    click.secho(f"report: {report}", fg="green")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for reports, results and gradebook.csv.")
@click.option("-a", "--assignment", help="Assignment id (default: from the notebooks).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Submissions graded in parallel [default: grader.toml's workers].")
@click.option("--manual", "manual_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="Instructor's manual scores (and days_late), in the gradebook's columns: "
                   "merged so the gradebook holds the final mark.")
@click.option("--no-isolation", is_flag=True,
              help="Grade even where the sandbox cannot isolate submissions (see `grader "
                   "doctor`); every report then says it ran unisolated.")
@click.pass_context
def grade(ctx: click.Context, paths: tuple[Path, ...], output: Path, assignment: str | None,
          jobs: int | None, no_isolation: bool, manual_csv: Path | None) -> None:
    """Grade every submission in PATHS (files, or folders searched for .ipynb, .py and
    answers.toml) into OUTPUT/<student>/report.html and result.json, plus
    OUTPUT/gradebook.csv. A broken submission gets zero with its reason; the batch goes on."""
    from graders.report import write_gradebook, write_result
    from graders.submission import discover
    files = discover(list(paths))
    if not files:
        _fail(f"no submissions (.ipynb, .py, answers.toml) found in {', '.join(map(str, paths))}.")
    config, loaded = _assignment(ctx, assignment, assignment or _common_hint(files))
    scores = _manual_scores(manual_csv, loaded)
    from graders.sandbox.isolation import detect
    isolation = detect()
    if not isolation.isolated and not no_isolation:
        _fail("refusing to grade without isolation: " + "; ".join(isolation.notes) + ". Run "
              "`grader doctor` for details, or pass --no-isolation to grade anyway (student "
              "code could then read the answer keys; every report will say so).")
    click.echo(f"grading {len(files)} submission(s) of {loaded.id} with "
               f"{jobs or config.workers} worker(s); sandbox: {isolation.describe()}")
    results = _grade_all(files, config, loaded, isolation, audience="instructor",
                         workers=jobs or config.workers,
                         on_result=lambda r, i, n: _summary_line(
                             r, i, n, output, write_result, scores, loaded.config.policies))
    if scores:
        unmatched = sorted(set(scores) - {r.student for r in results})
        if unmatched:
            click.secho(f"warning: {manual_csv} names students with no submission here: "
                        f"{', '.join(unmatched)}", fg="yellow")
    gradebook = output / "gradebook.csv"
    write_gradebook(results, gradebook)
    failed = sum(1 for r in results if r.error)
    click.secho(f"done: {len(results)} graded ({failed} unreadable), gradebook: {gradebook}",
                fg="green")


@main.command()
def doctor() -> None:
    """Report which isolation layers work on this machine.

    Starts a real sandbox and checks from inside what a submission would see: its uid, the
    pid namespace, the network, whether the project, the answer keys and your home are
    hidden, the process limit, and the cgroup caps. Instructor grading (`grader grade`)
    refuses to run unisolated unless given --no-isolation."""
    from graders.sandbox.doctor import check as check_layers
    isolation, layers = check_layers()
    for layer in layers:
        mark = click.style(" ok ", fg="green") if layer.ok else click.style("MISS", fg="red")
        click.echo(f"[{mark}] {layer.name:<32} {layer.detail}")
    verdict = isolation.describe()
    click.secho(f"sandbox: {verdict}", fg="green" if isolation.isolated else "red", bold=True)


def _common_hint(files: list[Path]) -> str | None:
    """The assignment the readable submissions name (notebook metadata, answer sheets), if
    they agree on one; unreadable files are graded later and name nothing."""
    from graders.submission import SubmissionError, load
    hints = set()
    for f in files:
        try:
            hints.add(load(f).assignment_hint)
        except SubmissionError:
            continue
    hints.discard(None)
    return hints.pop() if len(hints) == 1 else None


def _folder_names(files: list[Path]) -> dict[Path, str]:
    """A distinct output folder name per submission, from its student name."""
    from graders.submission import student_name
    names: dict[Path, str] = {}
    used: set[str] = set()
    for f in files:
        base = student_name(f) or "submission"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names[f] = name
    return names


def _grade_all(files, config, loaded, isolation, audience: str, workers: int, on_result=None):
    from graders.grading import grade as grade_one
    from graders.sandbox.pool import WorkerPool
    workers = max(1, min(workers, len(files)))
    names = _folder_names(files)
    results = []
    with WorkerPool(workers, loaded.config.preload, isolation, config.limits.memory_mb) as pool, \
            ThreadPoolExecutor(workers) as executor:
        futures = {executor.submit(grade_one, f, loaded, pool, config.limits, audience,
                                   isolation.describe()): f for f in files}
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            result.student = names[futures[future]]
            results.append(result)
            if on_result:
                on_result(result, done, len(files))
    order = {f: i for i, f in enumerate(files)}
    return sorted(results, key=lambda r: order[Path(r.file)])


def _manual_scores(path: Path | None, loaded) -> dict | None:
    """The instructor's manual scores, read and checked before any grading starts."""
    if path is None:
        return None
    from graders.manual import ManualError, manual_columns, read
    try:
        return read(path, manual_columns(loaded))
    except ManualError as exc:
        _fail(str(exc))


def _summary_line(result, index: int, count: int, output: Path, write_result, scores=None,
                  policies=None) -> None:
    if scores:
        from graders.manual import merge
        merge(result, scores, policies)
    report = write_result(result, output / result.student)
    status = result.error or "; ".join(result.limits_hit)
    pending = f", {result.manual_pending:g} manual pending" if result.manual_pending else ""
    click.echo(f"[{index}/{count}] {result.student}: {result.total:g}/{result.max_points:g}"
               f"{pending} ({result.seconds:.1f} s) {report}"
               + (click.style(f"  ! {status}", fg="yellow") if status else ""))


def _print_table(result) -> None:
    if result.error:
        click.secho(f"could not grade: {result.error}", fg="red")
    for hit in result.limits_hit:
        click.secho(f"limit: {hit}", fg="yellow")
    width = max([len(f"{p.id} {c.title}") for p in result.problems for c in p.checks] + [10])
    for problem in result.problems:
        for c in problem.checks:
            color = "green" if c.points >= c.max_points else ("red" if c.points == 0 else "yellow")
            label = f"{problem.id} {c.title}".ljust(min(width, 60))[:60]
            click.echo(f"{label}  " + click.style(f"{c.points:>5g}/{c.max_points:<3g}", fg=color)
                       + f"  {c.message[:90]}")
        for m in problem.manual:
            click.echo(f"{(problem.id + ' ' + m.prompt)[:60].ljust(min(width, 60))}  "
                       f"{'—':>5}/{m.max_points:<3g}  manual: graded by the instructor")
    click.secho(f"total: {result.total:g} / {result.max_points:g} automatic"
                + (f", {result.manual_pending:g} pending manual grading"
                   if result.manual_pending else ""), bold=True)


if __name__ == "__main__":
    main()
