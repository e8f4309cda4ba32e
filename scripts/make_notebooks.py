"""Write notebooks/*.ipynb: the tour "Adding images to your namespace", one notebook per step.

    .venv/bin/python scripts/make_notebooks.py          # rewrite them all
    .venv/bin/python scripts/make_notebooks.py --check  # exit 1 if a notebook is out of date

Each notebook: Markdown that teaches (before you begin, numbered steps, what next), one cell
tagged ``parameters`` written ``name: type = value  # help`` (so ``papermill
--help-notebook`` documents it; help text must not contain "=" or papermill skips the line),
thin calls into registry_widgets, and a last cell tagged ``result`` that prints the run's
JSON record. Cells whose output is the same on every machine start with
``# NBVAL_CHECK_OUTPUT`` and carry their expected output here, because notebooks/conftest.py
compares against the output stored in the notebook.
"""

from __future__ import annotations

import argparse
import platform
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
GUIDE = "https://cloud.ibm.com/docs/Registry?topic=Registry-registry_images_"

UNAUTHORIZED = (
    "**If a step says `unauthorized: authentication required`**, the registry wants to know "
    "who you are. Run `docker login <registry>` in a terminal (or open "
    "[00_setup](00_setup.ipynb), which checks your login), then run the step again. These "
    "notebooks reuse what `docker login` stored; they never ask for a password as a "
    "parameter, and never print or save one.")

INTERACTIVE = ("interactive: bool = True  # widgets for people; False for headless runs "
               "(small outputs)")


def md(text: str) -> dict:
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str, *, tags: tuple[str, ...] = (), expect: str | None = None) -> dict:
    cell = new_code_cell(textwrap.dedent(text).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    if expect is not None:
        assert cell.source.startswith("# NBVAL_CHECK_OUTPUT"), cell.source
        cell.outputs = [new_output("stream", name="stdout", text=expect)]
        cell.execution_count = 1  # nbval refuses a reference output from a cell never run
    return cell


def params(*lines: str) -> dict:
    body = "\n".join(lines)
    for line in lines:
        # papermill's inspection skips a line with two "=": its help would vanish.
        assert line.count("=") == 1, line
    return code(body, tags=("parameters",))


def result(expression: str) -> dict:
    return code(f"nb.record({expression})", tags=("result",))


def notebook(title: str, cells: list[dict]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[md(title)] + cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    # The language_info a Python 3 kernel reports, in full: JupyterLab writes the kernel's
    # into the notebook when it connects, so anything less marks a notebook modified the
    # moment it opens. The version is this interpreter's, the one .venv's kernel runs.
    nb.metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3", "version": platform.python_version()}
    return nb


# --------------------------------------------------------------------------------------------

def setup() -> nbformat.NotebookNode:
    return notebook("""
        # 0. Set up: the engine, the registry, your login

        Before you add images to a namespace, check the three things the other notebooks
        rely on: a Docker engine (to pull, tag, push and build), a registry that answers, and
        a login it accepts.
        """, [
        md("""
        ## Before you begin

        * A **registry** stores images; you reach it by its host name and port, such as
          `us.icr.io` or, here, the embedded registry `127.0.0.1:5000` that `make lab`
          starts (seeded with `tutorial/busybox`, `tutorial/hello` and
          `tutorial/multiarch`).
        * A **namespace** is your folder in a registry: the first part of an image's path,
          such as `my_namespace` in `us.icr.io/my_namespace/busybox:1.0`. It groups the
          repositories of a team or a project. IBM Cloud asks you to create it first; a plain
          registry creates it with the first push.
        * **Logging in** is `docker login <registry>`: Docker keeps your credentials in
          `~/.docker/config.json` (or a credential helper), and every notebook here reuses
          them. If you have not logged in and the registry needs it, this notebook asks for
          your password once (it is never echoed, printed or saved) and keeps it in this
          kernel's memory only.
        """),
        code("""
        from typing import Optional

        from registry_widgets import EngineUnavailable
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        md("""
        **Parameters.** Change them here, or from a terminal:
        `python -m registry_widgets run setup -p registry us.icr.io`. A password is never a
        parameter.
        """),
        params(
            "registry: str = REGISTRY  # the registry to check, host[:port] "
            "(default: $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000)",
            "ca_bundle: Optional[str] = None  # PEM file of the CA that signed the registry's "
            "certificate, for private CAs",
            "insecure: bool = False  # allow plain HTTP to this registry (loopback registries "
            "always may)",
            "username: Optional[str] = None  # asked only when there is no docker login; "
            "the password is always typed in",
            "require_engine: bool = False  # stop when no Docker engine answers",
            "interactive: bool = True  # a person may type a password; False for headless "
            "runs (never prompts)",
        ),
        md("""
        ## 1. Check the Docker engine

        Pull, tag, push and build go through a Docker engine, as in the guide. Copy, remove
        and the image lists talk to registries directly, so they work without one (in
        JupyterHub or Binder, say).
        """),
        code("""
        engine = nb.engine_status()
        if engine["available"]:
            print(f"Docker engine: available ({engine['images']} local images)")
        else:
            print("Docker engine: not available. Pull, tag, push and build need one; copy, "
                  "remove and the image lists work without it.")
            print("Why:", engine["reason"])
            if require_engine:
                raise EngineUnavailable(engine["reason"])
        """),
        md("""
        ## 2. Log in and check the registry

        The login comes from Docker's config when `docker login` was run; otherwise the
        registry is asked anonymously, and if it answers "unauthorized: authentication
        required" you are asked for a username and password (headless runs stop there
        instead, with the error at the top of the executed notebook). Only the username and
        where the credentials came from are shown.
        """),
        code("""
        login = nb.login(registry, ca_bundle=ca_bundle, insecure=insecure, username=username,
                         interactive=interactive)
        print(f"Registry {login['registry']} answers at {login['url']} "
              f"(API {login['api_version'] or 'unknown'}, authentication: {login['auth']}).")
        print(f"Logged in as: {login['username'] or 'anonymous'}")
        print(f"Credentials from: {login['credentials_from']}")
        """),
        md("""
        ## What next

        * Pull an image: [01_pull](01_pull.ipynb).
        * See your namespaces and images:
          [06_namespaces_and_images](06_namespaces_and_images.ipynb).
        * The other notebooks read the same `docker login`. A password typed here lasts only
          for this notebook's kernel; to use it everywhere, run `docker login <registry>`
          in a terminal.
        * A registry with a private CA: the other notebooks find the CA where Docker looks,
          `/etc/docker/certs.d/<host:port>/ca.crt`, or in `$REGISTRY_WIDGETS_CA_BUNDLE`.

        **If step 2 says `unauthorized: authentication required`** (in a headless run, or
        when the password was wrong), run `docker login <registry>` in a terminal, then run
        this notebook again.

        The cell below records what this run found, as JSON (the last output of every
        notebook, what CI reads).
        """),
        result('{"engine": engine, "login": login}'),
    ])


def pull_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 1. Pull an image from another registry

        The guide's first step: copy an image from a registry to your computer with
        `docker pull <source_image>:<tag>`. Here "another registry" is the embedded one
        (there is no internet); point `ref` at any registry you can reach.
        """, [
        md(f"""
        ## Before you begin

        * A Docker engine must run (check with [00_setup](00_setup.ipynb)).
        * An image is named `registry/namespace/repository:tag`. Leave out the tag and you
          get `latest`; add `@sha256:...` to pin the exact content (its digest).

        {UNAUTHORIZED}
        """),
        code("""
        from registry_widgets import pull
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'ref: str = f"{REGISTRY}/tutorial/busybox:1.0"  # the image to pull: '
            "registry/namespace/repository:tag, or @sha256:... for a digest",
            INTERACTIVE,
        ),
        md("""
        ## 1. Pull the image

        Similar to `docker pull`. The engine downloads only the layers it does not have yet.
        """),
        code("""
        view = nb.progress("pull", interactive)
        pulled = pull(ref, progress=view)
        nb.show(pulled, view)
        """),
        md("""
        ## 2. Check that it is on your computer

        Similar to `docker images REPOSITORY`. The digest is the one the registry served:
        every computer that pulls this tag now gets exactly this content.
        """),
        code("""
        nb.local_rows(ref)
        """),
        md("""
        ## What next

        * Give the image a name in your namespace and push it:
          [02_tag_and_push](02_tag_and_push.ipynb).
        * Copy it between registries without pulling it at all: [03_copy](03_copy.ipynb).

        The cell below records this run as JSON.
        """),
        result("pulled"),
    ])


def tag_and_push() -> nbformat.NotebookNode:
    return notebook("""
        # 2. Tag the image and push it to your namespace

        The guide's next steps: `docker tag <source_image>:<tag>
        <registry>/<my_namespace>/<new_image_repo>:<new_tag>`, then `docker push` it, then
        check the list.
        """, [
        md(f"""
        ## Before you begin

        * A Docker engine must run. The source is usually the image you pulled in
          [01_pull](01_pull.ipynb) (this notebook pulls it if you have not).
        * **Why tag before you push?** `docker push` has no "to" argument: the engine sends an
          image to the registry and namespace written in its name. A pulled image is named
          after the registry it came from, so you give it a second name that says where it
          goes. Tagging copies nothing: both names point at the same local image.

        {UNAUTHORIZED}
        """),
        code("""
        from registry_widgets import ImageTable, images, parse_reference, pull, push, tag
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'source: str = f"{REGISTRY}/tutorial/busybox:1.0"  # a local image, e.g. the one '
            "01_pull pulled",
            'target: str = f"{REGISTRY}/my_namespace/busybox:1.0"  # its new name: '
            "registry/namespace/repository:tag",
            INTERACTIVE,
        ),
        md("""
        ## 1. Read the new name

        An image name is built from four parts, `registry/namespace/repository:tag`. For
        example:
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        example = parse_reference("us.icr.io/my_namespace/busybox:1.0")
        print(f"registry:   {example.registry:<22} where the image is stored")
        print(f"namespace:  {example.namespace:<22} your folder in that registry")
        print(f"repository: {example.repository:<22} the image's name, with its namespace")
        print(f"tag:        {example.tag:<22} its version (latest when left out)")
        """, expect=(
            "registry:   us.icr.io              where the image is stored\n"
            "namespace:  my_namespace           your folder in that registry\n"
            "repository: my_namespace/busybox   the image's name, with its namespace\n"
            "tag:        1.0                    its version (latest when left out)\n")),
        code("""
        destination = parse_reference(target)
        print(f"{source} will be pushed to registry {destination.registry}, "
              f"namespace {destination.namespace or '(none)'}, "
              f"repository {destination.repository}, tag {destination.tag}")
        """),
        md("""
        ## 2. Tag the image

        Similar to `docker tag SOURCE TARGET`. A source that is not on this computer yet is
        pulled first, as in [01_pull](01_pull.ipynb).
        """),
        code("""
        if not nb.is_local(source):
            nb.show(pull(source))
        tagged = tag(source, target)
        nb.show(tagged)
        """),
        md("""
        ## 3. Push it to your namespace

        Similar to `docker push TARGET`. Layers the registry already has are skipped.
        """),
        code("""
        view = nb.progress("push", interactive)
        pushed = push(target, progress=view)
        nb.show(pushed, view)
        """),
        md("""
        ## 4. Check that it is in the list

        Similar to the guide's `ibmcloud cr image-list`: the tags of your namespace, with
        digests, sizes and dates.
        """),
        code("""
        listing = images(destination.registry, destination.namespace or None,
                         repositories=[destination.repository])
        if pushed.digest not in set(listing["digest"]):
            raise RuntimeError(f"{target} ({pushed.digest}) is not in the registry's list")
        if interactive:
            display(ImageTable(destination.registry, destination.namespace or None))
        else:
            display(nb.image_rows(listing))
        """),
        md("""
        ## What next

        * Copy the image to another (regional) registry: [03_copy](03_copy.ipynb).
        * Build your own image from a Dockerfile: [04_build](04_build.ipynb).

        The cell below records this run as JSON.
        """),
        result('{"tag": tagged, "push": pushed}'),
    ])


def copy_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 3. Copy an image between registries

        The guide copies an image to another regional registry by pulling it, tagging it for
        the other region and pushing it. `copy` does the same registry to registry, without a
        Docker engine and without unpacking anything, so the copy is byte for byte: the
        digest at the target equals the digest at the source.
        """, [
        md(f"""
        ## Before you begin

        * You need read access to the source and push access to the target (both from
          `docker login`).
        * A multi-arch image (an *index*) holds one image per platform. `platforms = "all"`
          copies all of them and keeps the digest; a list such as `["linux/amd64"]` copies
          only those and writes a smaller index, with a new digest.

        {UNAUTHORIZED}
        """),
        code("""
        from typing import Union

        from registry_widgets import ImageTable, copy, images, parse_reference, plan_copy
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'source: str = f"{REGISTRY}/tutorial/multiarch:1.0"  # the image to copy: '
            "registry/namespace/repository:tag",
            'target: str = f"{REGISTRY}/my_namespace/multiarch:1.0"  # where to, usually in '
            "another (regional) registry",
            'platforms: Union[str, list] = "all"  # "all" keeps the digest; or a list such as '
            '["linux/amd64"]',
            INTERACTIVE,
        ),
        md("""
        ## 1. See the plan

        Nothing changes in this step. If the target tag already points at another image,
        the plan says which one it replaces: that image is backed up to the journal before
        the copy, and `restore(copied)` puts the tag back on it.
        """),
        code("""
        print(nb.describe_copy(plan_copy(source, target, platforms=platforms)))
        """),
        md("""
        ## 2. Copy

        Similar to `skopeo copy --all` or `crane copy`. Blobs the target already has are
        skipped, and the tag at the target moves last, so an interrupted copy never leaves
        it pointing at missing content: just run it again.
        """),
        code("""
        view = nb.progress("copy", interactive)
        copied = copy(source, target, platforms=platforms, progress=view)
        nb.show(copied, view)
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        same = copied.digest == copied.details.get("source_digest", copied.digest)
        print("The target has the source's digest:", same)
        """, expect="The target has the source's digest: True\n"),
        md("""
        ## 3. Check the target

        The target's namespace, as its registry lists it.
        """),
        code("""
        destination = parse_reference(target)
        if interactive:
            display(ImageTable(destination.registry, destination.namespace or None))
        else:
            listing = images(destination.registry, destination.namespace or None,
                             repositories=[destination.repository])
            display(nb.image_rows(listing))
        """),
        md("""
        ## What next

        * Remove the source when you no longer need it: [05_remove](05_remove.ipynb).
        * Headless, e.g. from cron:
          `python -m registry_widgets run copy -p source A -p target B`; the executed
          notebook under `runs/` is the record, and a failure exits non-zero.

        The cell below records this run as JSON.
        """),
        result("copied"),
    ])


def build_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 4. Build an image from a Dockerfile, test it, push it

        Instead of pulling someone else's image, build your own: `docker build -t
        <registry>/<my_namespace>/<repository>:<tag> .`, try it with `docker run`, then push
        it to your namespace.
        """, [
        md(f"""
        ## Before you begin

        * A Docker engine must run ([00_setup](00_setup.ipynb) checks).
        * A **build context** is a folder with a `Dockerfile` and the files it copies in.
          Without one, this notebook writes a tiny sample app (busybox plus a greeting) to
          `sample-app` in the state folder (`$REGISTRY_WIDGETS_STATE`, else
          `~/.local/state/registry_widgets`). Its
          base image comes from the embedded registry (the `BASE` build argument), because
          nothing can be downloaded from the internet here.
        * Build arguments and labels are stored in the image: never put a secret in them.

        {UNAUTHORIZED}
        """),
        code("""
        from pathlib import Path
        from typing import Optional

        from registry_widgets import build, run
        from registry_widgets import notebook_support as nb
        from registry_widgets import push as push_image  # `push` is a parameter here

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            "context_dir: Optional[str] = None  # folder with the Dockerfile; None writes the "
            "tour's sample app and builds that",
            'ref: str = f"{REGISTRY}/my_namespace/hello:1.0"  # the image to build: '
            "registry/namespace/repository:tag",
            'dockerfile: Optional[str] = None  # the Dockerfile inside context_dir; None means '
            '"Dockerfile"',
            'build_args: dict = {"BASE": f"{REGISTRY}/tutorial/busybox:1.0"}  # ARG values '
            "for the build (never secrets: they stay in the image)",
            'labels: dict = {"org.opencontainers.image.title": "hello"}  # labels written '
            "into the image",
            "test_run: bool = True  # run the image once before pushing; a failure stops here",
            "command: Optional[str] = None  # the test run's command; None runs the image's "
            "CMD",
            "push: bool = True  # push to the registry after the test run",
            INTERACTIVE,
        ),
        md("""
        ## 1. Get the build context
        """),
        code("""
        if context_dir is None:
            context_dir = nb.sample_build_context()
        print("Build context:", context_dir)
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        print((Path(context_dir) / (dockerfile or "Dockerfile")).read_text())
        """, expect=(
            "# The tour's sample app: busybox plus a greeting.\n"
            "ARG BASE\n"
            "FROM ${BASE}\n"
            "COPY hello.txt /hello.txt\n"
            'CMD ["cat", "/hello.txt"]\n'
            "\n")),
        md("""
        ## 2. Build the image

        Similar to `docker build -t REF CONTEXT`. The image is named for its registry and
        namespace right away, so no extra `docker tag` is needed before the push.
        """),
        code("""
        view = nb.progress("build", interactive)
        built = build(context_dir, ref, dockerfile=dockerfile, build_args=build_args,
                      labels=labels, progress=view)
        nb.show(built, view)
        """),
        md("""
        ## 3. Test it locally

        Similar to `docker run --rm --network none REF`. A non-zero exit stops the notebook
        here, so a broken image is never pushed.
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        tested = None
        if test_run:
            tested = run(ref, command)
            print(f"exit code {tested.details['exit_code']}")
            print(tested.details["logs"], end="")
            if tested.details["exit_code"] != 0:
                raise RuntimeError(f"the test run of {ref} exited with "
                                   f"{tested.details['exit_code']}: not pushing it")
        """, expect="exit code 0\nHello from a freshly built image!\n"),
        md("""
        ## 4. Push it to your namespace

        Similar to `docker push REF`.
        """),
        code("""
        pushed = None
        if push:
            view = nb.progress("push", interactive)
            pushed = push_image(ref, progress=view)
            nb.show(pushed, view)
        """),
        md("""
        ## What next

        * Check the list of your namespace:
          [06_namespaces_and_images](06_namespaces_and_images.ipynb).
        * Remove test images you no longer need: [05_remove](05_remove.ipynb).

        The cell below records this run as JSON.
        """),
        result('{"build": built, "run": tested, "push": pushed}'),
    ])


def remove_nb() -> nbformat.NotebookNode:
    nb = notebook("""
        # 5. Remove images, then check the list

        Images you no longer need cost storage and clutter the list. This notebook shows
        what a removal would do first; by default it stops there (`dry_run = True`).
        """, [
        md(f"""
        ## Before you begin

        * **Tags and digests.** A tag (`repo:1.0`) is a name that points at a *digest*
          (`repo@sha256:...`), the address of the image's content. Several tags can point at
          the same digest; they are *co-tags*, like `tutorial/busybox:1.0` and
          `tutorial/busybox:latest` in the embedded registry.
        * Removing a **tag** removes that name only: its co-tags and the image stay.
        * Deleting a **digest** removes the image and *every* tag that points at it. The plan
          lists those tags before anything happens. (In IBM Cloud terms: `repo:tag` here is
          `ibmcloud cr image-untag`, `repo@sha256:...` is `ibmcloud cr image-rm`, which
          also takes every co-tag.)
        * A deleted image can be restored (`restore(result)`) until the registry's garbage
          collection runs; only that collection frees the storage.

        {UNAUTHORIZED}
        """),
        code("""
        from registry_widgets import ImageTable, images, parse_reference, plan_remove, remove
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'ref: str = f"{REGISTRY}/tutorial/busybox:latest"  # a tag (repo:tag, only that '
            "tag goes) or a digest (repo@sha256:..., the image and all its tags go)",
            "force: bool = False  # also delete a digest that a multi-arch index uses (that "
            "index breaks)",
            "dry_run: bool = True  # True only shows the plan; set it to False to remove",
            INTERACTIVE,
        ),
        md("""
        ## 1. See the plan

        Nothing changes in this step: the registry is only read.
        """),
        code("""
        plan = plan_remove(ref, force=force)
        print(plan.describe())
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        print("kind:   ", plan.kind)
        print("removes:", ", ".join(plan.tags_removed) or "no tag")
        print("keeps:  ", ", ".join(plan.co_tags_kept) or "no other tag")
        """, expect="kind:    tag\nremoves: latest\nkeeps:   1.0\n"),
        md("""
        ## 2. Remove

        With `dry_run = True` this only confirms the plan. To remove, set `dry_run = False`
        in the parameters (or `-p dry_run False` headless, where `-p ref ...` must be given
        too: a headless removal has no default target). The removal is checked against
        the plan: if the registry changed since, nothing is removed and the error says what
        changed; run the notebook again for a fresh plan.
        """),
        code("""
        # Headless, a real removal needs a ref you named: never the tour's example.
        nb.check_target(ref, example="tutorial/busybox:latest", dry_run=dry_run,
                        interactive=interactive)
        removed = remove(ref, force=force, dry_run=dry_run, plan=plan)
        nb.show(removed)
        if dry_run:
            print("Dry run: nothing was removed. Set dry_run = False to remove.")
        """),
        md("""
        ## 3. Check the list

        The tags left in the repository (the guide's `ibmcloud cr image-list`).
        """),
        code("""
        where = parse_reference(ref)
        if interactive:
            display(ImageTable(where.registry, where.namespace or None))
        else:
            listing = images(where.registry, where.namespace or None,
                             repositories=[where.repository])
            display(nb.image_rows(listing))
        """),
        md("""
        ## What next

        * Remove a whole namespace: `remove_namespace(registry, namespace,
          confirm=namespace)` (`from registry_widgets import remove_namespace`), or the
          namespace table's Remove button in
          [06_namespaces_and_images](06_namespaces_and_images.ipynb).
        * Changed your mind? `restore(removed)` (`from registry_widgets import restore`) puts
          the image and its tags back, until the registry's garbage collection runs.

        The cell below records this run as JSON.
        """),
        result("removed"),
    ])
    # The runner refuses, before the kernel starts, a headless run with dry_run False that
    # does not name ref (registry_widgets.runner.METADATA_KEY).
    nb.metadata["registry_widgets"] = {"destructive": {"targets": ["ref"], "dry_run": "dry_run"}}
    return nb


def namespaces_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 6. Namespaces and images

        What is in a registry: its namespaces (with repositories, tags and size), and the
        images of one namespace, one row per tag. Export the list as CSV for a report.
        """, [
        md(f"""
        ## Before you begin

        * A **namespace** is the first part of an image's path (`my_namespace` in
          `us.icr.io/my_namespace/busybox:1.0`). A plain registry has no namespace object: a
          namespace exists once an image is pushed into it. To plan one before its first
          push (the guide's `ibmcloud cr namespace-add`), declare it with `new_namespace`:
          it is listed with zero images until something arrives.
        * Sizes are compressed (what is stored and downloaded). A layer shared by several
          images counts once in the namespace's size.
        * **Registries that will not list their repositories.** Docker Hub, GHCR and many
          others refuse the catalog (the list of every repository), so nothing can be listed
          until you name the repositories: set `repositories` to them, e.g.
          `"team/app, team/db"`. They are remembered for that registry, and the widgets use
          them too.
        * The tables are current: every tag is checked with the registry. A local index
          remembers what each digest is, so a second listing costs one small request per tag.

        {UNAUTHORIZED}
        """),
        code("""
        from typing import Optional

        from registry_widgets import (ImageTable, NamespaceTable, add_namespace, images, namespaces,
                                      remember_repositories, remembered_repositories)
        from registry_widgets import notebook_support as nb
        from registry_widgets.widgets.tables import export_frame

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            "registry: str = REGISTRY  # the registry to list, host[:port] "
            "(default: $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000)",
            'namespace: Optional[str] = "tutorial"  # whose images to list; None lists every '
            "namespace",
            "repositories: Optional[str] = None  # for registries that refuse the catalog "
            "(Docker Hub, GHCR): the repositories to list, comma-separated; None asks the "
            "catalog (or uses those remembered)",
            "new_namespace: Optional[str] = None  # declare this namespace before its first "
            "push; None skips",
            "export_csv: Optional[str] = None  # write the image list to this CSV file; None "
            "skips",
            INTERACTIVE,
        ),
        code("""
        if repositories:
            remember_repositories(registry, repositories)  # the widgets list them too
        repositories = repositories or ", ".join(remembered_repositories(registry)) or None
        """),
        md("""
        ## 1. Add a namespace (optional)
        """),
        code("""
        added = None
        if new_namespace:
            added = add_namespace(registry, new_namespace)
            nb.show(added)
        """),
        md("""
        ## 2. List the namespaces

        Similar to `ibmcloud cr namespace-list`. Select a namespace in the table to remove
        it (you see the plan first).
        """),
        code("""
        spaces = namespaces(registry, repositories=repositories)
        if interactive:
            display(NamespaceTable(registry))
        else:
            display(nb.namespace_rows(spaces))
        """),
        md("""
        ## 3. List the images of a namespace

        Similar to `ibmcloud cr image-list`. In the table, select rows to pull, copy,
        inspect or remove them.
        """),
        code("""
        listing = images(registry, namespace, repositories=repositories)
        print(f"as of {listing.attrs['as_of']:%Y-%m-%d %H:%M:%S} UTC")
        if interactive:
            display(ImageTable(registry, namespace, repositories=repositories, background=True))
        else:
            display(nb.image_rows(listing))
        """),
        code("""
        # NBVAL_CHECK_OUTPUT
        print(f"{namespace or 'all namespaces'}: {listing['repository'].nunique()} "
              f"repositories, {len(listing)} tags")
        """, expect="tutorial: 3 repositories, 4 tags\n"),
        md("""
        ## 4. Export the list as CSV (optional)

        Every column, full digests, platforms and labels as text.
        """),
        code("""
        if export_csv:
            export_frame(listing).to_csv(export_csv, index=False)
            print(f"Wrote {len(listing)} rows to {export_csv}")
        """),
        md("""
        ## What next

        * Push an image into a namespace: [02_tag_and_push](02_tag_and_push.ipynb).
        * Everything on one page: [10_dashboard](10_dashboard.ipynb).

        The cell below records this run as JSON.
        """),
        result('{"registry": registry, "namespace": namespace, "added": added, '
               '"repositories_given": repositories, '
               '"namespaces": list(spaces["namespace"]), '
               '"repositories": sorted(set(listing["repository"])), '
               '"tags": len(listing), "csv": export_csv}'),
    ])


def retention_nb() -> nbformat.NotebookNode:
    nb = notebook("""
        # 7. Retention: keep the newest images, remove the rest

        Registries fill up with old builds. A retention run keeps the newest images of every
        repository and removes the others, like `ibmcloud cr retention-run`. This notebook
        shows the plan first and, by default, stops there (`dry_run = True`). It is made to
        run headless from cron with a saved policy.
        """, [
        md(f"""
        ## Before you begin

        * **An image counts once.** `keep = 5` keeps the five newest *images* of each
          repository, by the time each image was created: an image with several tags
          (co-tags) counts once, and so does a multi-arch index. An image without a usable
          created time is kept and reported, never guessed at.
        * **Filters narrow, never widen.** `older_than` (`90d`, `12h`, `2w`) and `tags` (a
          regular expression for the whole tag such as `dev-.*`, or a version range such as
          `>=1.0,<2`) only limit what may go.
        * **Protected tags never go.** Tags matching the namespace's protected patterns
          (`protect(...)`) or `protect` here stay, whatever else is said; so do images that a
          running container on this machine uses (unless `force`).
        * **Plan, then apply exactly the plan.** With `dry_run = False` the registry is read
          again; if anything changed since the plan, nothing is removed. Everything removed is
          backed up in the journal first: `restore(result)` undoes the run until the registry's
          garbage collection runs.
        * **Headless (cron).** Save a policy once (`set_retention_policy`), then run
          `python -m registry_widgets run retention -p target REGISTRY/NAMESPACE -p dry_run False`.
          Without `target`, only dry runs are allowed: a destructive run always names its
          target.

        {UNAUTHORIZED}
        """),
        code("""
        from typing import Optional

        from registry_widgets import CleanupPanel, retention, retention_policies, usage
        from registry_widgets import notebook_support as nb
        from registry_widgets.operations.core.policies import split_target
        from registry_widgets.operations.cleanup.retention import plan_frame
        from registry_widgets.widgets.cleanup_panel import plan_display

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'target: str = ""  # registry/namespace or registry/namespace/repository; empty '
            "previews every saved policy (or the embedded demo namespace)",
            "keep: Optional[int] = None  # keep this many newest images per repository; None "
            "uses the saved policy",
            'older_than: Optional[str] = None  # only images older than this may go, e.g. "90d"',
            "tags: Optional[str] = None  # only these tags may go: a regular expression, or a "
            "version range such as <2",
            "protect: Optional[str] = None  # a regular expression: matching tags never go "
            "(besides the saved ones)",
            "force: bool = False  # allow keep 0, and images that running containers use",
            "dry_run: bool = True  # True only shows the plan; False removes (needs a target)",
            INTERACTIVE,
        ),
        md("""
        ## 1. What to clean up

        A named `target` uses the options above (or, without any, its namespace's saved
        policy). Without a target, every saved policy is previewed; with none saved, the
        embedded registry's `demo` namespace is previewed keeping its 2 newest images.
        """),
        code("""
        if target:
            runs = {target: {"keep": keep, "older_than": older_than, "tags": tags}}
        elif not dry_run:
            raise ValueError("dry_run=False removes images, so it needs an explicit target: "
                             "-p target registry/namespace. Nothing was removed")
        elif retention_policies():
            runs = {name: {} for name in retention_policies()}
        else:
            runs = {f"{REGISTRY}/demo": {"keep": 2}}
        print("\\n".join(runs))
        """),
        md("""
        ## 2. The plan, and the removal

        Each row is a tag: `remove` or `keep`, how (`delete image`: the digest goes with all
        its tags; `remove tag`: only that name) and why. `frees` is what the registry's
        garbage collection can reclaim afterwards.
        """),
        code("""
        results = {}
        for name, options in runs.items():
            result = retention(name, protect=protect, force=force, dry_run=dry_run, **options)
            results[name] = result
            print(result.details["summary"].splitlines()[0])
            rows = plan_display(plan_frame(result.details["plan"]))
            display(rows.drop(columns=["bytes"]).head(50))
        if dry_run:
            print("Dry run: nothing was removed. Set dry_run = False (and a target) to remove.")
        """),
        md("""
        ## 3. Storage per namespace

        Like `ibmcloud cr quota`: bytes per namespace and repository, shared layers counted
        once; limits saved with `set_usage_limit` warn from 80 %. Deleted images still take
        space until garbage collection runs (on the embedded registry: `collect_garbage()`).
        """),
        code("""
        registry, namespace, _ = split_target(next(iter(runs)), verb="retention")
        display(usage(registry, namespace))
        if interactive:
            display(CleanupPanel(registry, namespace))
        """),
        md("""
        ## What next

        * Undo a run: `restore(results[target])` (`from registry_widgets import restore`),
          until garbage collection runs.
        * Free the space on the embedded registry: `collect_garbage()` (a dry run first:
          `collect_garbage(dry_run=True)`); other registries: `garbage_collection_help(host)`.
        * Protect tags: `protect("REGISTRY/NAMESPACE", ["latest", "release-.*"])`.

        The cell below records this run as JSON.
        """),
        result('{"runs": results, "dry_run": dry_run}'),
    ])
    # The runner refuses, before the kernel starts, a headless run with dry_run False that
    # does not name target (registry_widgets.runner.METADATA_KEY); the notebook checks too.
    nb.metadata["registry_widgets"] = {"destructive": {"targets": ["target"],
                                                       "dry_run": "dry_run"}}
    return nb


def dashboard_nb() -> nbformat.NotebookNode:
    return notebook("""
        # Registry dashboard

        Choose a registry in the bar (add your own; it shows whether it answers and who you
        are), select a namespace, then act on the selected images: removals show their plan
        first and Confirm deletes only what it showed. Build, Clean up (retention), Sync, Scan,
        Trash (restore what was deleted) and Log in are tabs. Told "unauthorized"? Log in
        there, or run `docker login <registry>` in a terminal and press Refresh.
        """, [
        code("""
        from registry_widgets import Dashboard, namespaces
        from registry_widgets import notebook_support as nb

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            "registries: list = [REGISTRY]  # the registries to manage, host[:port]; the "
            "first is shown first",
            "interactive: bool = True  # the dashboard; False prints each registry's "
            "namespaces instead (headless)",
        ),
        code("""
        if interactive:
            dashboard = Dashboard(registries)
            display(dashboard)
        else:
            for registry in registries:
                print(registry)
                display(nb.namespace_rows(namespaces(registry)))
        """),
        result('{"registries": registries, "interactive": interactive}'),
    ])


def scan_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 9. Scan an image: what is inside, known vulnerabilities, configuration issues

        After every push and copy the guide sends you to Vulnerability Advisor. This notebook
        is that step, offline: it reads the image's layers through the registry (no Docker
        engine), lists the packages inside (Debian/Ubuntu, Alpine, Python, npm), matches them
        against an advisory feed in the OSV format, and audits the image's configuration.
        """, [
        md(f"""
        ## Before you begin

        * You need read access to the image (from `docker login`).
        * A feed: a folder or zip of OSV JSON records (OSV publishes one zip per ecosystem,
          e.g. `Debian/all.zip`), or a feed artifact in a registry (`publish_feed` writes one;
          `copy` mirrors it into an air-gapped registry). `osv-demo` next to this notebook holds
          four real advisories, enough to try it. The feed is indexed once and the index is
          reused until the feed changes.
        * Exemptions (optional) are a JSON file written by `add_exemption`; exempt findings are
          shown as exempt, never hidden.

        {UNAUTHORIZED}
        """),
        code("""
        from typing import Optional
        from pathlib import Path

        from registry_widgets import ScanPanel, cyclonedx_json, sbom_table, scan
        from registry_widgets import notebook_support as nb
        from registry_widgets.widgets.scan_panel import findings_display

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'ref: str = f"{REGISTRY}/tutorial/busybox:1.0"  # the image to scan: '
            "registry/namespace/repository:tag",
            'feed: str = "osv-demo"  # OSV feed: a folder or zip of OSV JSON, or a feed artifact '
            "reference",
            "exemptions: Optional[str] = None  # exemptions file (JSON); exempt findings stay, "
            "marked",
            "fail_on: Optional[str] = None  # low, medium, high or critical: open findings at or "
            "above it fail the run",
            "json_output: Optional[str] = None  # write the report as JSON to this file",
            "sarif_output: Optional[str] = None  # write the findings as SARIF 2.1.0 (CI code "
            "scanning) to this file",
            "sbom_output: Optional[str] = None  # write the packages as CycloneDX JSON to this file",
            INTERACTIVE,
        ),
        md("""
        ## 1. Scan

        Similar to `ibmcloud cr va <image>` or `trivy image --offline-scan`. Versions are
        compared with each ecosystem's own rules, so `3.0.14-1~deb12u1` sorts before
        `3.0.14-1` (Debian) and `2.9.0` before `2.31.0` (PEP 440).
        """),
        code("""
        if interactive:
            panel = ScanPanel(ref, feed, exemptions or "")
            report = panel.scan()
            display(panel)
        else:
            report = scan(ref, feed=feed, exemptions=exemptions)
            print(report.reference, "-", report.status, report.counts())
            display(findings_display(report))
        """),
        md("""
        ## 2. What is inside

        The packages, with the layer that brought each one. The CycloneDX document (with a
        package URL per package) is what SBOM tools and registries exchange.
        """),
        code("""
        packages = sbom_table(report.contents)
        display(packages.head(50))
        if sbom_output:
            Path(sbom_output).write_text(cyclonedx_json(report.contents))
        if json_output:
            Path(json_output).write_text(report.to_json())
        if sarif_output:
            Path(sarif_output).write_text(report.to_sarif())
        """),
        md("""
        ## 3. Fail on a severity

        With `fail_on`, open findings at or above it raise `ScanFailed`: a headless run
        (`python -m registry_widgets run scan -p fail_on high`) then exits non-zero, with
        the outputs above already written.
        """),
        code("""
        report.check(fail_on)
        """),
        md("""
        ## What next

        * Accept a finding for a repository:
          `add_exemption("exemptions.json", "CVE-2024-2511", "registry/namespace/repository")`,
          then scan again with `exemptions = "exemptions.json"`.
        * Mirror the feed into an air-gapped registry with [03_copy](03_copy.ipynb), then set
          `feed` to the mirrored artifact's reference.

        The cell below records this run as JSON.
        """),
        result('{"reference": report.reference, "digest": report.digest, "status": report.status, '
               '"counts": report.counts(), "packages": report.packages, '
               '"findings": sorted({f.id for f in report.findings})}'),
    ])


def sync_nb() -> nbformat.NotebookNode:
    return notebook("""
        # 8. Sync a namespace to another registry

        Copying one image at a time is fine for a release; a mirror copies a whole
        namespace, and keeps it current. `sync` plans first (every tag to copy, skip or
        replace, with its size), then copies each repository with `copy`, byte for byte.
        Run it again later and it copies only what is new.
        """, [
        md(f"""
        ## Before you begin

        * `source` and `target` are `registry/namespace` (every repository in it) or
          `registry/namespace/repository` (that one). `127.0.0.1:5000/tutorial` to
          `eu.icr.io/my_namespace` copies `tutorial/busybox` to `my_namespace/busybox`, and
          so on.
        * **Filters** choose tags: `tags` is a regular expression searched in each tag
          (`^1\\.` for the 1.x tags, as `skopeo sync`'s `images-by-tag-regex`), `semver`
          a version range such as `>=1.2,<2`, `latest` the newest N by creation time.
        * **Signatures come along**: cosign's `sha256-<digest>.sig`, `.att` and `.sbom`
          tags of every copied image are copied with it (`accessories = False` to leave
          them).
        * A tag at the target that points at other content is **replaced**; its old manifest
          is saved in the journal first, and `restore(result)` puts it back.
        * A failed image does not stop the others; the last cell lists every outcome.
        * Thousands of repositories? In Python, pass a Dask cluster:
          `sync(source, target, executor=distributed.Client(address).get_executor())`
          (`pip install registry_widgets[dask]`); the workers log in with their own
          `docker login`.

        {UNAUTHORIZED}
        """),
        code("""
        from typing import Optional, Union

        from registry_widgets import sync
        from registry_widgets import notebook_support as nb
        from registry_widgets.operations.mirror.sync import by_status, raise_for_failures
        from registry_widgets.widgets.sync_panel import sync_rows

        REGISTRY = nb.default_registry()  # $REGISTRY_WIDGETS_REGISTRY, else 127.0.0.1:5000
        """),
        params(
            'source: str = f"{REGISTRY}/tutorial"  # what to mirror: registry/namespace or '
            "registry/namespace/repository",
            'target: str = f"{REGISTRY}/mirror"  # where to, same form; repositories keep '
            "their names under it",
            "tags: Optional[str] = None  # regular expression searched in each tag, e.g. "
            "^1[.] (None: every tag)",
            "semver: Optional[str] = None  # version range, e.g. >1.2 (comparisons joined by "
            "commas); tags that are no version are left out",
            "latest: Optional[int] = None  # only the newest N tags of each repository, by "
            "creation time",
            'platforms: Union[str, list] = "all"  # "all" keeps the digests; or a list such as '
            '["linux/amd64"]',
            "accessories: bool = True  # copy the signature, attestation and SBOM tags too",
            "dry_run: bool = False  # True only shows the plan",
            INTERACTIVE,
        ),
        md("""
        ## 1. See the plan

        Nothing is copied in this step: both registries are only read.
        """),
        code("""
        plan = sync(source, target, tags=tags, semver=semver, latest=latest,
                    platforms=platforms, accessories=accessories, dry_run=True)
        print(plan.summary())
        display(sync_rows(plan))
        """),
        md("""
        ## 2. Sync

        With `dry_run = True` this step stops at the plan. Otherwise each repository is
        copied (several at a time); the progress shows one bar per repository.
        """),
        code("""
        if dry_run:
            synced = plan
            print("Dry run: nothing was copied. Set dry_run = False to sync.")
        else:
            view = nb.progress("sync", interactive)
            synced = sync(source, target, tags=tags, semver=semver, latest=latest,
                          platforms=platforms, accessories=accessories, progress=view)
            nb.show(synced, view)
            display(sync_rows(synced))
        """),
        md("""
        ## What next

        * Run it again (from cron, say:
          `python -m registry_widgets run sync -p source A -p target B`): only new or
          changed tags are copied. A failed image makes the run exit non-zero after
          recording every outcome.
        * Check the mirror: [06_namespaces_and_images](06_namespaces_and_images.ipynb).

        The cell below records this run as JSON: copied, skipped and failed per image.
        """),
        code("""
        nb.record({"images": by_status(synced), "counts": synced.details["counts"],
                   "result": synced})
        raise_for_failures(synced)
        """, tags=("result",)),
    ])


BUILDERS = {
    "00_setup": setup,
    "01_pull": pull_nb,
    "02_tag_and_push": tag_and_push,
    "03_copy": copy_nb,
    "04_build": build_nb,
    "05_remove": remove_nb,
    "06_namespaces_and_images": namespaces_nb,
    "07_retention": retention_nb,
    "08_sync": sync_nb,
    "09_scan": scan_nb,
    "10_dashboard": dashboard_nb,
}


def render(name: str) -> str:
    nb = BUILDERS[name]()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name.replace('_', '-')}-{i:02d}"  # stable ids: clean diffs
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report notebooks that differ from this script; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name in BUILDERS:
        path = NOTEBOOKS / f"{name}.ipynb"
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
