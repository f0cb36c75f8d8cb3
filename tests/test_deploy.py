"""The Dockerfile, docker-compose.yml, the lock and pyproject.toml, checked without a Docker engine.

No engine runs here, so these tests read the files the way Docker and pip would and run what
can run outside a container: the healthcheck command against a live server, the step that
lists the image's requirements, the lock against the installed versions.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import json
import os
import pathlib
import re
import runpy
import shlex
import subprocess
import sys
import tomllib
from urllib.parse import urlparse

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import servers
from conftest import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
MACHINE_CAPS = pathlib.Path("/etc/xdg/pip/constraints.txt")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    steps, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        instruction, _, args = current.strip().partition(" ")
        steps.append((instruction.upper(), args.strip()))
        current = ""
    return steps


def lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


# --- the Dockerfile ------------------------------------------------------------------------

def test_base_image_tag_is_pinned_to_a_python_the_package_allows():
    (base,) = [args for instruction, args in dockerfile() if instruction == "FROM"]
    match = re.fullmatch(r"python:(\d+\.\d+\.\d+)-slim-[a-z]+", base)
    assert match, f"base image {base!r}: pin the full Python version and the Debian release"
    assert Version(match.group(1)) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_dependencies_come_from_the_lock_before_any_code_is_copied():
    steps = dockerfile()
    installs = [i for i, (instruction, args) in enumerate(steps)
                if instruction == "RUN" and "pip install" in args and "-c constraints.txt" in args]
    assert installs, "no RUN installs with the lock (pip install -c constraints.txt)"
    copied_before = [shlex.split(args)[:-1] for instruction, args in steps[:installs[0]] if instruction == "COPY"]
    assert sorted(sum(copied_before, [])) == ["constraints.txt", "pyproject.toml"], copied_before
    code_copies = [i for i, (instruction, args) in enumerate(steps) if instruction == "COPY"
                   and set(shlex.split(args)[:-1]) - {"pyproject.toml", "constraints.txt"}]
    assert code_copies and min(code_copies) > max(installs)
    torch_step = next(args for instruction, args in steps if instruction == "RUN" and "torch" in args)
    assert "grep -E '^torch==' constraints.txt" in torch_step  # the version comes from the lock
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_step


def test_the_package_is_not_installed_a_second_time():
    for instruction, args in dockerfile():
        if instruction == "RUN":
            assert not re.search(r"pip install[^&]*\s(-e\s+)?['\"]?\.(\[|['\"\s]|$)", args), args
    env = " ".join(args for instruction, args in dockerfile() if instruction == "ENV")
    workdir = [args for instruction, args in dockerfile() if instruction == "WORKDIR"][-1]
    assert f"PYTHONPATH={workdir}" in env  # the code runs from the copied checkout


def test_the_requirements_step_lists_the_library_app_and_scale_dependencies(tmp_path):
    run = next(args for instruction, args in dockerfile() if instruction == "RUN" and "tomllib" in args)
    snippet = re.search(r'python -c "(.*?)" > /tmp/requirements.txt', run).group(1)
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    out = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, check=True)
    names = {canonicalize_name(Requirement(line).name) for line in out.stdout.splitlines()}
    assert {"torch", "numpy", "plotly", "dash", "flask-caching", "gunicorn", "celery", "redis"} <= names
    assert not names & {"pytest", "selenium", "hypothesis", "ruff"}  # test tools stay out of the image


def test_cmd_is_the_gunicorn_command_and_its_module_resolves():
    cmd = servers.dockerfile_cmd()
    assert cmd[:3] == ["gunicorn", "--config", "gunicorn.conf.py"] and (ROOT / cmd[2]).is_file()
    module, _, attribute = cmd[-1].partition(":")
    source = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(source.read_text())
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                if isinstance(target, ast.Name)}
    assert attribute in assigned, f"{source.name} defines no top-level {attribute!r}"


def healthcheck_argv() -> list[str]:
    (args,) = [args for instruction, args in dockerfile() if instruction == "HEALTHCHECK"]
    return json.loads(args[args.index("CMD") + 3:].strip())


def test_healthcheck_probes_the_port_gunicorn_binds(live_server):
    port = int(live_server.rsplit(":", 1)[1])
    argv = healthcheck_argv()
    assert argv[0] == "python"

    def probe(bind):
        return subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, env={**os.environ, "POLYVIZ_BIND": bind},
                              capture_output=True, text=True, timeout=30)

    up = probe(f"0.0.0.0:{port}")  # the image's WORKDIR holds gunicorn.conf.py, as ROOT does here
    assert up.returncode == 0, up.stderr
    assert probe(f"0.0.0.0:{free_port()}").returncode != 0  # nothing listens there: unhealthy


def test_exposed_port_is_gunicorns_default(monkeypatch):
    monkeypatch.delenv("POLYVIZ_BIND", raising=False)
    bind = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["bind"]
    (exposed,) = [args for instruction, args in dockerfile() if instruction == "EXPOSE"]
    assert bind.rsplit(":", 1)[1] == exposed


def local_modules_the_app_imports() -> set[str]:
    """Top-level names (files or folders in the checkout) imported by the app, followed through."""
    local = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and any(p.glob("*.py")))) and p.name not in ("tests", "benchmarks")}
    seen, todo = set(), ["app"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT / f"{name}.py"
        files = [path] if path.is_file() else list((ROOT / name).rglob("*.py"))
        for file in files:
            for node in ast.walk(ast.parse(file.read_text())):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                todo += [n.split(".")[0] for n in names if n.split(".")[0] in local]
    return seen


def test_dockerignore_ships_every_module_the_app_imports_and_nothing_of_the_dev_setup():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)  # no exceptions to reason about

    def ignored(name):
        return any(fnmatch.fnmatch(name, p.removeprefix("**/")) for p in patterns)

    ships = {f"{m}.py" if (ROOT / f"{m}.py").is_file() else m for m in local_modules_the_app_imports()}
    ships |= {"gunicorn.conf.py", "assets", "pyproject.toml", "constraints.txt"}
    assert {"app.py", "polyviz", "layouts", "callbacks"} <= ships
    assert not [name for name in ships if ignored(name)]
    assert all(ignored(name) for name in (".venv", ".git", "tests", "benchmarks", "__pycache__"))


# --- docker-compose.yml --------------------------------------------------------------------

def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_redis_holding_the_queue_never_evicts_keys_without_a_ttl():
    services = compose()
    urls = {name: s.get("environment", {}).get("POLYVIZ_REDIS_URL") for name, s in services.items()}
    for url in filter(None, urls.values()):
        host = urlparse(PASSWORD_VAR.sub("secret", url)).hostname
        command = services[host]["command"]
        policy = command[command.index("--maxmemory-policy") + 1] if "--maxmemory-policy" in command else "noeviction"
        assert policy in ("noeviction", "volatile-lru", "volatile-lfu", "volatile-ttl"), (host, policy)


def test_the_worker_runs_the_celery_app_from_the_web_image_without_needing_web():
    services = compose()
    web, worker = services["web"], services["worker"]
    assert "web" not in worker.get("depends_on", [])
    assert worker.get("build") or worker["image"] == web["image"]
    assert worker["image"] == web["image"]
    command = worker["command"]
    module = command[command.index("-A") + 1]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
    assert worker["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")  # the image's /health check is the web's


PASSWORD_VAR = re.compile(r"\$\{(POLYVIZ_REDIS_PASSWORD)(:\?[^}]*)?\}")


def test_the_web_port_is_published_on_loopback_only():
    for name, service in compose().items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), (name, mapping)  # the public proxy sits in front
    assert compose()["web"]["ports"]


def test_redis_requires_the_password_every_client_url_carries():
    services = compose()
    command = services["redis"]["command"]
    required = command[command.index("--requirepass") + 1]
    match = PASSWORD_VAR.fullmatch(required)
    assert match and match.group(2), required  # from the environment, and compose refuses to start without it
    for name, service in services.items():
        url = service.get("environment", {}).get("POLYVIZ_REDIS_URL")
        if url:
            password = urlparse(PASSWORD_VAR.sub("secret", url)).password
            assert password == "secret" and PASSWORD_VAR.search(url).group(1) == match.group(1), (name, url)
    assert not services["redis"].get("ports")  # reachable on the compose network only


def test_redis_persists_to_a_volume_so_trained_models_survive_a_restart():
    redis_service = compose()["redis"]
    command = redis_service["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volumes = [str(v) for v in redis_service.get("volumes", [])]
    assert any(v.endswith(":/data") for v in volumes), volumes  # the image's working directory for the AOF
    named = {v.split(":")[0] for v in volumes}
    top = yaml.safe_load((ROOT / "docker-compose.yml").read_text()).get("volumes") or {}
    assert named <= set(top), "a named volume, not a container-local directory"


def megabytes(text: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg])b?", str(text).lower()).groups()
    return float(number) * {"k": 1 / 1024, "m": 1, "g": 1024}[unit]


def test_every_service_has_a_memory_limit_and_redis_fits_inside_its_own():
    services = compose()
    for name, service in services.items():
        assert service.get("mem_limit"), f"{name} has no memory limit"
    command = services["redis"]["command"]
    assert megabytes(command[command.index("--maxmemory") + 1]) < megabytes(services["redis"]["mem_limit"])


def test_the_cache_refuses_a_timeout_that_would_store_redis_keys_without_a_ttl(monkeypatch):
    from services import cache

    monkeypatch.setenv("POLYVIZ_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("POLYVIZ_CACHE_TIMEOUT", "0")
    with pytest.raises(ValueError, match="POLYVIZ_CACHE_TIMEOUT = '0' is not allowed"):
        cache.cache_config()


@pytest.mark.integration
def test_every_cache_key_in_redis_has_a_ttl_and_holds_plain_data():
    """A real redis-server: even a write asking for "no timeout" gets the default TTL."""
    import shutil

    import redis

    from services import cache, plain_data

    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server is needed: apt-get install redis-server (make test does this)"
    port = free_port()
    process = servers.start([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no"], log_name="redis-ttl")
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    try:
        servers.wait_until(lambda: _pings(client), timeout=20, what="redis ping")
        store = cache.PlainRedisCache(host=client, default_timeout=600, key_prefix="polyviz:")
        for timeout in (None, 0, 30):
            assert store.set(f"k{timeout}", {"weights": b"\x00\x01", "n": 1}, timeout=timeout)
        ttls = {key: client.ttl(key) for key in client.scan_iter("polyviz:*")}
        assert len(ttls) == 3 and all(0 < ttl <= 600 for ttl in ttls.values()), ttls
        raw = client.get("polyviz:kNone")
        assert raw.startswith(plain_data.MAGIC) and store.get("kNone") == {"weights": b"\x00\x01", "n": 1}
    finally:
        servers.stop(process)


# --- the lock and pyproject.toml ------------------------------------------------------------

def test_the_lock_pins_torch_once_and_fits_the_machines_caps():
    pins = lock()
    text = LOCK.read_text()
    assert len(re.findall(r"(?m)^torch==", text)) == 1 and "+" not in text  # no local build labels
    assert not re.search(r"(?m)^torch", (ROOT / "Makefile").read_text())  # the Makefile reads it from here
    if MACHINE_CAPS.is_file():
        for line in MACHINE_CAPS.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                cap = Requirement(line)
                name = canonicalize_name(cap.name)
                if name in pins:
                    assert Version(pins[name]) in cap.specifier, (name, pins[name], line)


def test_the_installed_versions_are_the_locked_ones():
    """The suite runs on what the lock says (make test installs with -c constraints.txt)."""
    drift = []
    for name, version in lock().items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(installed.base_version if name == "torch" else str(installed)) != Version(version):
            drift.append(f"{name}: installed {installed}, locked {version}")
    assert not drift, "run make lock (or reinstall with -c constraints.txt): " + "; ".join(drift)


def test_the_lock_satisfies_every_requirement_the_test_install_pulls_in():
    """make test's `pip install -c constraints.txt '.[app,scale,test]'` resolves only if every
    declared requirement, followed through every extra, admits the locked version (dash[celery]
    once capped kombu below the 5.4 the scale extra needs, and CI stopped at the install)."""
    pins, project = lock(), PYPROJECT["project"]
    requirements = project["dependencies"] + sum((project["optional-dependencies"][e]
                                                  for e in ("app", "scale", "test")), [])
    refused = [f"{requirement} refuses the locked {name}=={pins[name]}"
               for requirement in every_requirement(requirements)
               if (name := canonicalize_name(requirement.name)) in pins
               and not requirement.specifier.contains(pins[name], prereleases=True)]
    assert not refused, refused


def every_requirement(requirements: list[str]):
    """Each requirement these pull in, as every dependent states it (extras followed, from
    installed metadata); a distribution's own requirements are followed once per extras set."""
    seen, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        yield requirement
        key = (canonicalize_name(requirement.name), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        for line in importlib.metadata.requires(requirement.name) or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in requirement.extras | {""}):
                todo.append(dep)


def requirements_closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements pull in (extras followed), from installed metadata."""
    return {canonicalize_name(r.name) for r in every_requirement(requirements)}


def third_party_imports(paths: list[pathlib.Path]) -> set[str]:
    local = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()}
    found = set()
    for path in paths:
        for file in ([path] if path.suffix == ".py" else path.rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in local
            and name != "__future__"}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    provided = importlib.metadata.packages_distributions()
    return {module: {canonicalize_name(d) for d in provided.get(module, [])} for module in modules}


@pytest.mark.parametrize(("what", "paths", "extras"), [
    ("the library", ["polyviz"], ["transformer"]),  # polyviz.transformer: the optional extra
    ("the app", ["app.py", "gunicorn.conf.py", "layouts", "callbacks", "services"], ["app", "scale"]),
])
def test_every_third_party_import_is_declared(what, paths, extras):
    project = PYPROJECT["project"]
    declared = requirements_closure(project["dependencies"] + sum((project["optional-dependencies"][e]
                                                                   for e in extras), []))
    paths = [ROOT / p for p in paths if (ROOT / p).exists()]
    missing = {module: dists for module, dists in distributions_of(third_party_imports(paths)).items()
               if not dists & declared}
    assert not missing, f"{what} imports modules no declared dependency provides: {missing}"


def test_the_library_pulls_no_web_stack():
    core = requirements_closure(PYPROJECT["project"]["dependencies"])
    assert not core & {"dash", "flask", "flask-caching", "gunicorn", "celery", "redis", "werkzeug"}


FILL_THE_CACHE = """
from services import cache as services
from services.celery_app import celery_app
import app  # noqa: F401  (the cache is configured when the app is built)

celery_app.send_task("polyviz.queued_probe", args=[1])  # a queued job; no worker takes it
blob = "x" * 20_000
with app.server.app_context():
    stored = sum(services.cache_set(f"fill-{i}", blob) for i in range(600))  # ~12 MB into 4 MB
print(stored)
"""


@pytest.mark.integration
def test_a_full_cache_evicts_cached_results_never_the_queued_job(tmp_path):
    """The compose Redis settings for real: fill the cache past maxmemory with a job queued."""
    import shutil

    import redis

    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server is needed: apt-get install redis-server (make test does this)"
    command = compose()["redis"]["command"]
    policy = command[command.index("--maxmemory-policy") + 1]
    port = free_port()
    process = servers.start([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--maxmemory", "4mb", "--maxmemory-policy", policy], log_name="redis-evict")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        servers.wait_until(lambda: _pings(client), timeout=20, what="redis ping")
        env = {**os.environ, "POLYVIZ_REDIS_URL": url, "POLYVIZ_DATA_DIR": str(tmp_path)}
        run = subprocess.run([sys.executable, "-c", FILL_THE_CACHE], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=180)
        assert run.returncode == 0, run.stderr[-2000:]
        assert int(run.stdout.split()[-1]) == 600  # every write succeeded (older entries made room)
        assert client.info("stats")["evicted_keys"] > 0  # the cache really overflowed
        assert client.llen("celery") == 1  # the queued job is still there
        no_ttl = [key for key in client.scan_iter() if client.ttl(key) == -1 and key != b"celery"]
        assert all(key.startswith(b"_kombu") for key in no_ttl), no_ttl  # only Celery's own bookkeeping
    finally:
        servers.stop(process)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def test_the_readme_configuration_table_lists_exactly_the_settings_the_code_reads():
    """Every POLYVIZ_ environment variable the app (or the test suite's browser set-up) reads is
    in README's configuration table, and every row names one that is read: no setting is
    undocumented, and none documented is dead."""
    sources = [ROOT / "app.py", ROOT / "gunicorn.conf.py", ROOT / "tests" / "conftest.py",
               *[p for package in ("services", "polyviz", "layouts", "callbacks") for p in (ROOT / package).rglob("*.py")]]
    # a literal that is not a dict key or a subscript (a Flask config key, an assignment to os.environ)
    read = {name for path in sources for name in re.findall(r'"(POLYVIZ_[A-Z_]+)"(?!\s*[:\]])', path.read_text())}
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `POLYVIZ_")]
    documented = {name for row in rows for name in re.findall(r"`(POLYVIZ_[A-Z_]+)`", row.split(" | ")[0])}
    internal = {name for line in table.splitlines() if not line.startswith("|")
                for name in re.findall(r"`(POLYVIZ_[A-Z_]+)`", line)}
    assert read - documented - internal == set(), "read by the code but not in README's configuration table"
    assert documented - read == set(), "in README's configuration table but read nowhere"
