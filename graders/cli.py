"""The `grader` command line (click). Heavy imports wait until a command needs them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from graders import ROOT
from graders.program import Program, finished

def _config(ctx: click.Context):
    """The course configuration (--config), loaded once per command."""
    if "loaded" not in ctx.obj:
        from graders.config import ConfigError, load
        try:
            ctx.obj["loaded"] = load(ctx.obj["config"])
        except ConfigError as exc:
            _fail(str(exc))
    return ctx.obj["loaded"]


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _choose(ctx, name: str | None, declared: dict[str, list[Path]] | None = None,
            force: bool = False):
    """(config, assignment id): the one named with -a, else the one the submissions declare
    (`declared`: assignment -> files naming it), else the only one configured. An -a that
    contradicts what a submission declares is refused unless `force`."""
    config = _config(ctx)
    declared = declared or {}
    others = {a: files for a, files in declared.items() if a != name}
    if name and others and not force:
        said = "; ".join(f"{a} ({', '.join(str(f) for f in files[:3])}"
                         f"{' ...' if len(files) > 3 else ''})" for a, files in others.items())
        _fail(f"-a {name} contradicts the assignment these submissions declare: {said}. Drop "
              f"-a, or pass --force to grade them as {name} anyway.")
    if not name and len(declared) > 1:
        _fail("these submissions declare different assignments: " + ", ".join(declared)
              + "; grade each assignment's submissions separately.")
    chosen = _named_or_only(config, name, next(iter(declared), None))
    if chosen is None:
        _fail("cannot tell which assignment this is; name it with -a "
              f"({', '.join(config.assignments)}).")
    return config, chosen


def _named_or_only(config, name: str | None, hint: str | None) -> str | None:
    """The assignment named with -a, else `hint` (what the submissions declare), else the
    only one configured; None where none of them says."""
    return name or hint or (
        next(iter(config.assignments)) if len(config.assignments) == 1 else None)


def _slots(config, jobs: int | None, count: int) -> int:
    """Slots for `count` submissions: -j, else grader.toml's workers, at most one each."""
    return max(1, min(jobs or config.workers, count))


def _load(config, chosen: str):
    from graders.assignment import load_assignment
    from graders.config import ConfigError
    try:
        return load_assignment(config, chosen)
    except ConfigError as exc:
        _fail(str(exc))


def _assignment(ctx, name: str | None, declared=None, force: bool = False):
    config, chosen = _choose(ctx, name, declared, force)
    return config, _load(config, chosen)


@click.group(cls=Program, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              default=lambda: next((p for p in (Path("grader.toml"), ROOT / "grader.toml")
                                    if p.exists()), Path("grader.toml")),
              show_default="./grader.toml, else the checkout's",
              help="The course configuration: assignments, points, tolerances, limits.")
@click.pass_context
def main(ctx: click.Context, config: Path) -> None:
    """Grade notebooks of the efficient deep-learning course against computed answer keys.

    Students: `grader check my.ipynb` runs your notebook in a sandbox and shows what passes.
    Instructors: `grader grade submissions/ -o out/` grades a whole class into HTML reports
    and a gradebook. `grader list` shows the assignments; `grader key` shows an answer key.
    """
    ctx.ensure_object(dict)["config"] = config


@main.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List the assignments and their problems with points.

    For each problem: its automatic checks and their points, and the free-text parts an
    instructor grades by hand. Everything comes from grader.toml (see --config), checked
    exactly as `check` and `grade` check it (each assignment's key is built if not cached)."""
    config = _config(ctx)
    for name in config.assignments:
        _load(config, name)  # the same validation as grading: a bad config fails here
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
@click.option("--full", is_flag=True, help="Print every key item, not only the summary.")
@click.option("--data", "data", metavar="SOURCE[=PATH]", default=None,
              help="duke-hw4: compute and cache Lab 2's reference runs on `digits` or "
                   "`cifar10=PATH` (a GPU if there is one; a progress bar over epochs).")
@click.pass_context
def key(ctx: click.Context, assignment: str, output: Path, rebuild: bool, full: bool,
        data: str | None) -> None:
    """Write ASSIGNMENT's answer key as an HTML page organised by problem and print a summary
    (instructors only: it is the key). --full prints every item too."""
    from graders.assignment import load_assignment
    from graders.config import ConfigError
    from graders.keyview import key_summary, key_text, write_key_html
    config = _config(ctx)
    if data is not None:
        _lab2_runs(config, assignment, data, rebuild)
    try:
        loaded = load_assignment(config, assignment, rebuild_key=rebuild)
    except ConfigError as exc:
        _fail(str(exc))
    path = write_key_html(loaded, output / f"{assignment}-key.html")
    if full:
        click.echo(key_text(loaded))
    click.secho(key_summary(loaded, path), fg="green")


def _lab2_runs(config, assignment: str, data: str, rebuild: bool) -> None:
    """`grader key ASSIGNMENT --data ...`: compute (or read) the Lab 2 reference runs and print
    their table; say how grader.toml selects them if it names another source."""
    from graders.config import ConfigError
    try:
        params = config.assignment(assignment).key_params
    except ConfigError as exc:
        _fail(str(exc))
    if "quantization_runs" not in params:
        _fail(f"--data: {assignment} has no Lab 2 reference runs "
              f"([assignments.{assignment}.key.quantization_runs] is not in grader.toml).")
    from graders.lab2_reference import compute, data_option
    try:
        wanted = data_option(data, params["quantization_runs"])
        stored, table = compute(wanted, rebuild)
    except ValueError as exc:  # an unknown source, a CIFAR-10 folder that is not one
        _fail(str(exc))
    meta = stored["meta"]
    click.echo(f"Lab 2 reference runs on {meta['source']} ({meta['device']}, "
               f"{meta['seconds']:g} s), cached:\n{table}")
    current = params["quantization_runs"]
    if (current.get("data"), current.get("cifar10_path", "")) != (wanted["data"],
                                                                  wanted["cifar10_path"]):
        click.echo(f"grading uses them once [assignments.{assignment}.key.quantization_runs] "
                   f"says data = \"{wanted['data']}\""
                   + (f", cifar10_path = \"{wanted['cifar10_path']}\"" if wanted["cifar10_path"]
                      else ""))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-a", "--assignment", help="Assignment id (default: from the notebook).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the report [default: reports/out/check/NAME].")
@click.option("--force", is_flag=True, help="Check as the -a assignment even a notebook that "
              "declares another one.")
@click.pass_context
def check(ctx: click.Context, file: Path, assignment: str | None, output: Path | None,
          force: bool) -> None:
    """Self-check one submission (.ipynb, .py or answers.toml) before you hand it in.

    Runs your code in a sandboxed worker, prints a table of what passes, and writes an HTML
    report. Exit code 0 when it could be graded, 2 when the file could not be read.
    """
    # Start-up in parallel, each step a guess that the next one checks: the worker and the
    # submission's job start from a first look at the file (graders.submission.first_look:
    # its JSON alone, no nbformat), the job with the probes of the last check of this
    # assignment (graders.keys.remembered_probes); then the notebook is loaded (nbformat,
    # the reading of record: what it refuses is refused, with no mark and no report) while
    # the sandbox starts, and this process imports the engine, loads the key and forks the
    # judge from there; grading then finds that job running (or, where a guess was wrong,
    # kills it and runs the right one), and the judge checks each problem once its probes
    # have answered (graders.judge.EarlyJudging); the report's renderer loads while the
    # cells run. A self-check holds no keys worth stealing: the worker starts in the
    # confinement bubblewrap should give here, its own start being the trial
    # (graders.sandbox.pool.WorkerPool.confirm).
    from contextlib import ExitStack

    from graders.submission import SubmissionError, first_look, load
    with ExitStack() as stack:
        first = first_look(file)
        early = _early_pool(ctx, first, assignment)
        started = False
        if early is not None:
            stack.callback(early[1].close)
            started = _start_ahead(early[1], early[0], first, _config(ctx).limits)
        try:
            submission = load(file)
        except SubmissionError as exc:
            _fail(str(exc))
        declared = {submission.assignment_hint: [file]} if submission.assignment_hint else {}
        config, chosen = _choose(ctx, assignment, declared, force)
        from graders.config import ConfigError
        try:
            settings = config.assignment(chosen)
        except ConfigError as exc:
            _fail(str(exc))
        code = submission.cells + list(submission.files.values())
        if early is not None and early[0] == chosen:
            pool = early[1]
        else:
            if early is not None:
                early[1].close()  # it guessed another assignment
            pool = _check_pool(config, settings, code, _environment(config, chosen))
            stack.callback(pool.close)
            started = False
        if not started:
            _start_ahead(pool, chosen, submission, config.limits)
        import gc
        from concurrent.futures import ThreadPoolExecutor

        from graders.grading import grade as grade_one
        from graders.judge import judges_for
        from graders.keys import remember_probes
        loaded = _load(config, chosen)
        gc.freeze()  # the engine and the key, for good: no collection here, in the forked
        judges_for(loaded).warm(1, loaded)  # judge or at exit walks them again (0.1 s each)
        remember_probes(chosen, [probe.wire() for probe in loaded.probes()])
        with ThreadPoolExecutor(1) as background:  # started after the fork: no thread forked
            writer = background.submit(_report_writer)
            isolation = pool.confirm()
            result = grade_one(file, loaded, pool, config.limits, "student",
                               isolation.describe(), early=True)
            background.submit(pool.close)  # its end is waited for while the report is written
            _print_table(result)
            from graders.identity import folder_name
            folder = output or Path("reports/out/check") / folder_name(result.student)
            report = writer.result()(result, folder)
    click.secho(f"report: {report}", fg="green")
    finished(ctx)  # nothing left to do: the process may end at once (graders.program)


def _start_ahead(pool, assignment_id: str, submission, limits) -> bool:
    """Start `submission`'s job on `pool` now (WorkerPool.start), with the probes the last
    check of the assignment kept (graders.keys.remembered_probes): grading adopts it if it
    is the job it asks for, else kills it first. False where nothing was started (no first
    look, no probes kept, no code)."""
    if submission is None or not submission.cells:
        return False
    from graders.keys import remembered_probes
    from graders.sandbox.pool import Job
    probes = remembered_probes(assignment_id)
    return probes is not None and pool.start(Job(submission.cells, probes, limits,
                                                 files=dict(submission.files)))


def _early_pool(ctx, first, named: str | None):
    """(assignment id, its worker pool, already starting) from the first look at the
    submission (`first`, graders.submission.first_look), for `check`; None where there is
    none, or `_guess_environment` has no guess (`check` then says why, in its order)."""
    if first is None:
        return None
    guess = _guess_environment(ctx, named, first.assignment_hint)
    if guess is None:
        return None
    config, chosen, settings, environment = guess
    return chosen, _check_pool(config, settings, first.cells + list(first.files.values()),
                               environment)


def _guess_environment(ctx, named: str | None, hint: str | None):
    """(config, assignment id, its settings, its built environment) before anything heavy is
    imported, for the assignment `_named_or_only` gives. None where the configuration does
    not load, that names no assignment, or its environment is not built yet."""
    from graders.config import ConfigError, load
    from graders.sandbox.environment import EnvironmentBuildError, for_assignment
    try:
        config = ctx.obj["loaded"] = load(ctx.obj["config"])
        chosen = _named_or_only(config, named, hint)
        if chosen is None:
            return None
        settings = config.assignment(chosen)
        environment = for_assignment(config, chosen, build=False)
    except (ConfigError, EnvironmentBuildError, KeyError):
        return None
    if environment is None:
        return None
    return config, chosen, settings, environment


def _check_pool(config, settings, code: list[str], environment):
    """`check`'s pool: one worker, started at once, importing only the preloads that `code`
    imports."""
    from graders.sandbox.pool import preload_for
    return _started_pool(config, 1, preload_for(settings.preload, code), environment)


def _report_writer():
    """The report's writer, graders.batch.write_outputs, imported (15 ms of imports, sqlite3
    among them) and its template loaded (graders/report.py keeps it): called in the
    background while the sandbox runs the cells, so that writing the report does not wait
    for either."""
    from graders.batch import write_outputs
    from graders.report import environment
    environment().get_template("submission.html.j2")
    return write_outputs


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for reports, the gradebook (gradebook.sqlite, "
              "exported to gradebook.csv) and the log.")
@click.option("-a", "--assignment", help="Assignment id (default: from the notebooks).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Submissions graded in parallel [default: grader.toml's workers].")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CSV with columns file,id[,name] giving each file's student "
              "id (default: from the layout: a folder per student, Canvas's or Gradescope's "
              "export, or the file name).")
@click.option("--manual", "manual_csv", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="Instructor's manual scores (and days_late), in the gradebook's columns: "
                   "merged so the gradebook holds the final mark.")
@click.option("--regrade", is_flag=True, help="Grade every submission again, even those the "
              "gradebook already holds for the same file, key and settings.")
@click.option("--no-isolation", is_flag=True,
              help="Grade even where the sandbox cannot isolate submissions (see `grader "
                   "doctor`); every report then says it ran unisolated.")
@click.option("--force", is_flag=True, help="Grade as the -a assignment even submissions that "
              "declare another one.")
@click.option("--dask", metavar="ADDRESS", default=None,
              help="Grade on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786; "
                   "`local` starts a LocalCluster here with -j threads, `local:2x1` two worker "
                   "processes of one thread), each Dask worker with "
                   "warm sandbox slots of its own (one per thread); results land in the same "
                   "gradebook. Needs the dask extra: pip install '.[dask]' in the grader's "
                   "checkout.")
@click.pass_context
def grade(ctx: click.Context, paths: tuple[Path, ...], output: Path, assignment: str | None,
          jobs: int | None, roster: Path | None, no_isolation: bool, manual_csv: Path | None,
          regrade: bool, force: bool, dask: str | None) -> None:
    """Grade every submission in PATHS (files, or folders searched for .ipynb, .py, .zip and
    answers.toml) into OUTPUT/<student>/report.html and result.json, the gradebook
    OUTPUT/gradebook.sqlite and its export OUTPUT/gradebook.csv.

    Each submission's student id comes from the layout (a folder per student, an LMS export,
    the file name) or --roster; two files with one id are refused. A broken submission gets
    zero with its reason; the batch goes on. Interrupted (Ctrl-C, a crash), the same command
    resumes: it grades only what is missing, changed, or graded under another key or
    settings (--regrade: everything)."""
    # Start-up in parallel: the class's workers start from the notebooks' first look (their
    # JSON alone, graders.submission.first_look) and the configuration, before the engine is
    # imported and the key loaded; they are the sandbox's trial (WorkerPool.confirm), and are
    # closed unused where nothing is left to grade.
    from contextlib import ExitStack

    from graders.gradebook import GradebookError
    from graders.identity import IdentityError, plan
    try:
        batch_plan = plan(list(paths), roster)
    except IdentityError as exc:
        _fail(str(exc))
    if not batch_plan.files:
        _fail(f"no submissions (.ipynb, .py, .zip, answers.toml) found in "
              f"{', '.join(map(str, paths))}.")
    declared = _declared(batch_plan.files)
    with ExitStack() as stack:
        early = None if dask else _early_batch_pool(ctx, assignment, declared, jobs,
                                                    len(batch_plan.files))
        if early is not None:
            stack.callback(early[2].close)
        from graders.batch import Batch, log_to
        try:
            log_to(output)
        except OSError as exc:
            _fail(f"{output}: cannot write the output folder ({exc.strerror}); choose "
                  "another with -o.")
        config, loaded = _assignment(ctx, assignment, declared, force)
        try:
            batch = Batch(output, batch_plan, loaded, config.limits)
        except GradebookError as exc:
            _fail(str(exc))
        stack.callback(batch.close)
        scores = _manual_scores(manual_csv, loaded, batch)
        todo = batch.pending(regrade)
        workers = _slots(config, jobs, len(todo))
        pool = None
        if todo and not dask:
            pool = _batch_pool(early, config, loaded, workers)
            stack.callback(pool.close)
            if not pool.confirm().isolated and not no_isolation:
                _fail("refusing to grade without isolation: " + "; ".join(pool.isolation.notes)
                      + ". Run `grader doctor` for details, or pass --no-isolation to grade "
                      "anyway (student code could then read the answer keys; every report "
                      "will say so).")
        elif early is not None:
            early[2].close()
        kept = len(batch_plan.files) - len(todo)
        click.echo(f"{len(batch_plan.files)} submission(s) of {loaded.id}: {len(todo)} to "
                   "grade"
                   + (f", {kept} already graded (--regrade grades them again)" if kept else "")
                   + (f", with {workers} worker(s); sandbox: {pool.isolation.describe()}"
                      if pool is not None else "")
                   + (f", on the Dask cluster {dask}" if todo and dask else ""))
        if scores:
            _merge_stored(batch, [f for f in batch_plan.files if f not in todo], scores, loaded)
        if todo:
            _grade_todo(batch, todo, config, loaded, pool, workers, scores, dask, no_isolation)
        gradebook = batch.export()
        _print_summary(batch.results(), gradebook)


def _early_batch_pool(ctx, named: str | None, declared: dict[str, list[Path]],
                      jobs: int | None, count: int):
    """(assignment id, workers, their pool, already starting) for `grade`, from -a or what the
    submissions declare and the configuration alone; None where that does not say which
    assignment (`grade` then says why, in its order) or its environment is not built."""
    guess = _guess_environment(ctx, named, next(iter(declared)) if len(declared) == 1 else None)
    if guess is None:
        return None
    config, chosen, settings, environment = guess
    workers = _slots(config, jobs, count)
    return chosen, workers, _started_pool(config, workers, settings.preload, environment)


def _batch_pool(early, config, loaded, workers: int):
    """The class's pool of `workers` slots: the one started early (`_early_batch_pool`) where it
    guessed right, else one started now (its environment built first if needed)."""
    if early is not None:
        chosen, size, pool = early
        if (chosen, size) == (loaded.id, workers):
            return pool
        pool.close()
    return _started_pool(config, workers, loaded.config.preload,
                         _environment(config, loaded.id))


def _started_pool(config, workers: int, preload: list[str], environment):
    """A pool of `workers` slots importing `preload`, started at once: under the confinement
    bubblewrap should give here (graders.sandbox.isolation.candidate), its own start being the
    trial (WorkerPool.confirm), else under what a trial sandbox finds (detect)."""
    from graders.sandbox.isolation import candidate, detect
    from graders.sandbox.pool import WorkerPool
    return WorkerPool(workers, preload, candidate() or detect(), config.limits.memory_mb,
                      environment)


def _grade_todo(batch, todo, config, loaded, pool, workers, scores, dask=None,
                no_isolation=False) -> None:
    """Grade `todo` into the batch with a progress bar, on the local `pool` (its judges forked
    from here first: a few ms each, the key already loaded) or the Dask cluster `dask`;
    Ctrl-C stops within a second or two, keeps what finished and says how to resume."""
    from tqdm import tqdm

    from graders.batch import grade_batch
    from graders.judge import judges_for
    if pool is not None:
        judges_for(loaded).warm(workers, loaded)  # before the progress bar starts its thread
    bar = tqdm(total=len(todo), unit="sub", dynamic_ncols=True, disable=None)  # a terminal
    done = []

    def finished(path, result):
        if scores:
            from graders.manual import merge
            merge(result, scores, loaded.config.policies)
        report = batch.record(path, result)
        done.append(path)
        bar.update(1)
        _summary_line(result, len(done), len(todo), report, bar)

    try:
        if dask:
            _grade_on_cluster(batch, dask, todo, config, loaded, no_isolation, workers, finished)
        else:
            grade_batch(todo, loaded, pool, config.limits, "instructor",
                        pool.isolation.describe(), workers, finished)
    except KeyboardInterrupt:
        bar.close()
        batch.export()
        done = len(todo) - len(batch.pending())
        click.secho(f"interrupted: {done} of {len(todo)} graded and kept in "
                    f"{batch.gradebook.path}; run the same command again to grade the rest.",
                    fg="yellow", err=True)
        sys.exit(130)
    bar.close()


def _grade_on_cluster(batch, address, todo, config, loaded, no_isolation, threads,
                      finished) -> None:
    """`grade --dask`: graders/cluster.py grades, this says what went wrong and how to fix it."""
    try:
        from graders.cluster import ClusterError, grade_on_cluster
    except ImportError as exc:
        _fail(f"--dask needs Dask ({exc.name} is not installed): pip install '.[dask]' in "
              "the grader's checkout.")
    try:
        failed = grade_on_cluster(address, todo, config, loaded, "instructor", no_isolation,
                                  threads, finished)
    except ClusterError as exc:
        batch.export()
        _fail(f"{exc} What was graded is kept; run the same command again to go on.")
    if failed:
        click.secho(f"{len(failed)} submission(s) could not be graded on the cluster (see "
                    f"{batch.out / 'grader.log'}); run the same command again to grade them.",
                    fg="yellow", err=True)


def _merge_stored(batch, files, scores, loaded) -> None:
    """Apply the manual scores to results already in the gradebook, without grading again."""
    from graders.manual import merge
    for path in files:
        result = batch.stored(path)
        if merge(result, scores, loaded.config.policies):
            batch.record(path, result)


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Report which isolation layers work on this machine, and each assignment's environment.

    Starts a real sandbox and checks from inside what a submission would see: its uid, the
    pid namespace, the network, whether the project, the answer keys and your home are
    hidden, the process limit, and the cgroup caps. Instructor grading (`grader grade`)
    refuses to run unisolated unless given --no-isolation. Then lists the student
    environment of each assignment: built or not, where, and its main packages' versions."""
    from graders.sandbox.doctor import check as check_layers
    isolation, layers = check_layers(ctx.obj["config"])
    for layer in layers:
        mark = click.style(" ok ", fg="green") if layer.ok else click.style("MISS", fg="red")
        click.echo(f"[{mark}] {layer.name:<32} {layer.detail}")
    verdict = isolation.describe()
    click.secho(f"sandbox: {verdict}", fg="green" if isolation.isolated else "red", bold=True)
    _doctor_environments(ctx)


def _environment(config, name: str):
    """The student environment of assignment `name`, built first (with progress) if needed."""
    from graders.sandbox.environment import EnvironmentBuildError, for_assignment
    try:
        return for_assignment(config, name, progress=lambda line: click.echo("  " + line,
                                                                            err=True))
    except EnvironmentBuildError as exc:
        _fail(str(exc))


def _declared(files: list[Path]) -> dict[str, list[Path]]:
    """The assignments the readable submissions declare (notebook metadata, answer sheets),
    each with its files; unreadable files are graded later and declare nothing. A plain v4
    notebook's metadata is read without nbformat (`first_look`: the same metadata, a few ms
    less a file before the class's workers start)."""
    from graders.submission import SubmissionError, first_look, load
    declared: dict[str, list[Path]] = {}
    for f in files:
        try:
            hint = (first_look(f) or load(f)).assignment_hint
        except SubmissionError:
            continue
        if hint is not None:
            declared.setdefault(hint, []).append(f)
    return declared


def _manual_scores(path: Path | None, loaded, batch) -> dict | None:
    """The instructor's manual scores, read and checked before any grading starts: rows
    match students by id, and a row whose file changed since it was graded is refused."""
    if path is None:
        return None
    from graders.manual import ManualError, manual_columns, read, stale_rows
    try:
        scores = read(path, manual_columns(loaded))
        stale = stale_rows(path, {batch.plan.identities[f].id: batch.hashes[f]
                                  for f in batch.plan.files})
    except ManualError as exc:
        _fail(str(exc))
    if stale:
        _fail(f"{path}: the submission changed since these rows were graded: "
              + "; ".join(stale) + ". Grade it again and fill in its row from the new "
              "gradebook.csv, or remove the row.")
    return scores


def _summary_line(result, index: int, count: int, report: Path, bar) -> None:
    status = result.error or "; ".join(result.limits_hit)
    pending = f", {result.pending_points:g} manual pending" if result.pending_points else ""
    bar.write(f"[{index}/{count}] {result.student}: {result.total:g}/{result.max_points:g}"
              f"{pending} ({result.seconds:.1f} s) {report}"
              + (click.style(f"  ! {status}", fg="yellow") if status else ""))


def _print_summary(results, gradebook: Path) -> None:
    """Count, mean, median, min and max of the marks; failures and limits by kind."""
    from graders.batch import summarize
    for line in summarize(results):
        click.echo(line)
    click.secho(f"gradebook: {gradebook}", fg="green")


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
                + (f", {result.pending_points:g} pending manual grading"
                   if result.pending_points else ""), bold=True)



def _doctor_environments(ctx: click.Context) -> None:
    """`grader doctor`'s last section: per assignment, its environment and whether it is built."""
    from graders.config import ConfigError, load
    from graders.sandbox.environment import EnvironmentBuildError, built, describe, own
    click.secho("student environments:", bold=True)
    try:
        config = load(ctx.obj["config"])
    except ConfigError as exc:
        click.secho(f"[MISS] {exc}", fg="red")
        return
    for name, assignment in config.assignments.items():
        if assignment.environment is None:
            click.echo(f"[{click.style(' ok ', fg='green')}] {name:<12} the grader's own "
                       f"interpreter {own().python}: {describe(own())}")
            continue
        spec = config.environments[assignment.environment]
        try:
            env = built(spec)
            folder = spec.folder()
        except EnvironmentBuildError as exc:
            click.echo(f"[{click.style('MISS', fg='red')}] {name:<12} {exc}")
            continue
        if env is None:
            click.echo(f"[{click.style('MISS', fg='red')}] {name:<12} {spec.name}: not built "
                       f"(would be {folder}); run `grader env {name}` (takes minutes, once)")
        else:
            click.echo(f"[{click.style(' ok ', fg='green')}] {name:<12} {spec.name}: "
                       f"{env.prefix}: {describe(env)}")


@main.command("env")
@click.argument("assignments", nargs=-1)
@click.pass_context
def env_cmd(ctx: click.Context, assignments: tuple[str, ...]) -> None:
    """Build the student environments of ASSIGNMENTS (default: every assignment).

    Each [environments.NAME] in grader.toml becomes a virtual environment under the grader's
    cache (GRADER_CACHE, else ~/.cache/course-grader/envs), built with pip once and reused
    until its package list changes. Prints progress, then each environment's path and
    versions. Exit code 2 if any could not be built (the message names the package and fix).
    """
    from graders.config import ConfigError
    from graders.sandbox.environment import EnvironmentBuildError, describe, ensure, own
    config = _config(ctx)
    try:
        chosen = [config.assignment(a).id for a in assignments] or list(config.assignments)
    except ConfigError as exc:
        _fail(str(exc))
    failed = False
    for name in dict.fromkeys(config.assignments[a].environment for a in chosen):
        users = ", ".join(a for a in chosen if config.assignments[a].environment == name)
        if name is None:
            click.echo(f"{users}: the grader's own interpreter {own().python}: "
                       f"{describe(own())}")
            continue
        try:
            env = ensure(config.environments[name], progress=lambda line: click.echo("  " + line))
        except EnvironmentBuildError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            failed = True
            continue
        click.secho(f"{users}: environment {name}: {env.prefix}", fg="green")
        click.echo(f"  {describe(env)}")
    if failed:
        sys.exit(2)


@main.command("kit")
@click.argument("assignment")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="New folder for the kit (a pip-installable package).")
@click.pass_context
def kit_cmd(ctx: click.Context, assignment: str, output: Path) -> None:
    """Build ASSIGNMENT's student kit in OUTPUT: the template, the public checks, the student
    environment's requirements and `grader check` (graders/kit.py). No reference code, no
    key, no hidden input. Students install it with `pip install OUTPUT`."""
    from graders.config import ConfigError
    from graders.kit import build
    config, loaded = _assignment(ctx, assignment)
    try:
        folder = build(config, loaded, output)
    except ConfigError as exc:
        _fail(str(exc))
    click.secho(f"kit: {folder} (pip install {folder})", fg="green")


@main.command("gradescope")
@click.argument("assignment")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("autograder.zip"), show_default=True, help="The bundle to write.")
@click.option("--visibility", type=click.Choice(["hidden", "after_due_date", "after_published",
                                                 "visible"]), default="after_due_date",
              show_default=True, help="When students see the hidden checks' results.")
@click.option("--allow-unisolated", is_flag=True, help="Grade even where bubblewrap does not "
              "work in Gradescope's container (a submission could then read the key).")
@click.pass_context
def gradescope_cmd(ctx: click.Context, assignment: str, output: Path, visibility: str,
                   allow_unisolated: bool) -> None:
    """Build a Gradescope autograder zip for ASSIGNMENT (graders/gradescope.py): setup.sh,
    run_autograder and the grader's source with this grader.toml. Upload it as the
    assignment's autograder."""
    from graders.gradescope import bundle
    _assignment(ctx, assignment)  # refuse a configuration that does not load
    path = bundle(ctx.obj["config"], assignment, output, visibility, allow_unisolated)
    click.secho(f"autograder: {path} (upload it in Gradescope's Configure Autograder)",
                fg="green")


if __name__ == "__main__":
    main()
