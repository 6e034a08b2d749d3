"""Demo editor for undoredo: documents made of paragraphs, with Undo and Redo.

Every write the user makes is one transaction that names the document it
edits, who edits it and what they did, through transaction-local settings:

    SET LOCAL undoredo.scope = 'document:<id>';
    SET LOCAL undoredo.actor = 'alice';
    SET LOCAL undoredo.label = 'Edit paragraph 2';

so the extension records it as one labelled step of that document's history,
made by alice.  These are SET LOCAL statements rather than set_config(...,
true) calls because on Citus only the statement is sent on to the workers
(with citus.propagate_set_commands = 'local').  Who edits is picked in the
page's header (no login: this is a demo); the choice is part of the page's
address (?user=alice), so two tabs of one browser can be two people.  With
nobody picked, steps have no actor.

The Undo and Redo buttons call undoredo_undo / undoredo_redo for anyone's
newest step and show the counts of undoredo_status; "Undo my last change" and
"Redo my change" pass the user as the actor argument, so they take that
user's steps only.  The history panel lists undoredo_history (who made each
step) and, per step, what undoredo_changes says it changed (old -> new per
column); if that call fails, the panel shows the steps without it.  "Revert"
on a step calls undoredo_revert: that step alone is taken back, as a new step.

An undo, redo or revert is refused by the extension (SQLSTATE UR001) when a
row it would put back has changed since.  When a later step of the history
changed it, the page names that step and who made it: undo or revert that
step first.  "Save without history" writes a paragraph with no scope, as
another program would; a refusal caused by such a write comes with an
"Undo anyway" button that retries with undoredo.on_conflict = 'overwrite'.

Plain psycopg2, one connection per request, server-rendered forms (POST,
then redirect).  The tables are those of schema.sql.  The extension's
functions are called qualified by the schema the extension lives in.

Run:  /usr/bin/python3 examples/editor/app.py [--host 127.0.0.1] [--port 5000]
It connects with libpq's PG* environment variables, or EDITOR_DSN.
"""
import argparse
import json
import os
import re

import psycopg2
from psycopg2 import sql
from flask import (Flask, abort, flash, g, get_flashed_messages, redirect,
                   render_template, request, url_for)

CONFLICT = "UR001"          # SQLSTATE of undoredo's conflict error
REFUSED = ("55000", "22023")  # a revert of an undone step, or of no step
OBJECT_TYPE = "document"    # scopes are 'document:<id>'
USERS = ("alice", "bob")    # who can be picked in the header
# undoredo's errdetail when a later step of the history changed the row
LATER_STEP = re.compile(r"^Step (\d+) of this history changed the row after step (\d+)\.$")
# columns the history panel leaves out of a row it lists: the paragraph's
# document is the one on the page
IMPLIED_COLUMNS = ("document_id",)
SHOWN_TEXT = 60             # longer texts are cut in the history panel


def set_local(cur, name, value):
    """SET LOCAL name = value.  SET takes no parameters, so the value is
    written into the statement dollar-quoted, with a tag whose first
    occurrence in value + tag is the closing one: dollar quoting has no
    escapes, so the value reads the same whatever standard_conforming_strings.
    Executed without parameters, psycopg2 leaves any '%' in it alone."""
    tag, n = "$v$", 0
    while (value + tag).find(tag) != len(value):
        n += 1
        tag = "$v%d$" % n
    cur.execute("SET LOCAL %s = %s%s%s" % (name, tag, value, tag))


def shown_value(value):
    """A value of undoredo_changes' jsonb, as the history panel shows it."""
    if isinstance(value, str) and len(value) > SHOWN_TEXT:
        value = value[:SHOWN_TEXT - 1] + "\u2026"
    return json.dumps(value, ensure_ascii=False)


def describe_change(op, table, key, old, new):
    """One row change of undoredo_changes, for the history panel: the row
    ('paragraph #3'), what happened to it and, per column, the values."""
    if key is None:
        # a row the extension does not show to this role
        return {"op": op, "row": "a row of %s" % table, "columns": [], "hidden": True}
    if len(key) == 1:
        row = "%s #%s" % (table, next(iter(key.values())))
    else:
        row = "%s (%s)" % (table, ", ".join("%s %s" % (k, shown_value(v))
                                            for k, v in key.items()))
    image = new if op == "insert" else old
    names = [c for c in (image or {}) if c not in key and c not in IMPLIED_COLUMNS]
    columns = [(c, shown_value((old or {}).get(c)) if op != "insert" else None,
                shown_value((new or {}).get(c)) if op != "delete" else None)
               for c in names]
    return {"op": op, "row": row, "columns": columns, "hidden": False}


def create_app(dsn=""):
    app = Flask(__name__)
    app.secret_key = os.urandom(24)     # only signs the flash messages
    app.config["DSN"] = dsn

    @app.before_request
    def pick_user():
        user = request.args.get("user", "")
        g.user = user if user in USERS else None

    @app.url_defaults
    def keep_user(_endpoint, values):
        # every link, form and redirect of a page keeps its user
        if g.get("user") and "user" not in values:
            values["user"] = g.user

    @app.context_processor
    def users():
        return {"users": USERS, "user": g.get("user")}

    def db():
        if "conn" not in g:
            g.conn = psycopg2.connect(app.config["DSN"])
        return g.conn

    @app.teardown_appcontext
    def close_db(_exc):
        conn = g.pop("conn", None)
        if conn is not None:
            conn.close()

    def ext_function(cur, name):
        """The extension's function `name`, qualified by its schema."""
        if "EXT_SCHEMA" not in app.config:
            cur.execute("""SELECT n.nspname
                             FROM pg_catalog.pg_extension e
                             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                            WHERE e.extname = 'undoredo'""")
            row = cur.fetchone()
            if row is None:
                abort(500, "The undoredo extension is not installed in this database.")
            app.config["EXT_SCHEMA"] = row[0]
        return sql.Identifier(app.config["EXT_SCHEMA"], name)

    def counts(cur, function, doc_id, *more):
        """(undo_count, redo_count) from undoredo_status/_undo/_redo/_revert;
        `more` are the arguments after the document's id."""
        args = [OBJECT_TYPE, doc_id] + list(more)
        query = sql.SQL("SELECT undo_count, redo_count FROM {}({})").format(
            ext_function(cur, function),
            sql.SQL(", ").join(sql.Placeholder() * len(args)))
        cur.execute(query, args)
        return cur.fetchone()

    def set_actor(cur):
        """The user picked in the page makes what this transaction records
        (nobody picked: no actor)."""
        set_local(cur, "undoredo.actor", g.user or "")

    def begin_step(cur, doc_id, label):
        """Make the rest of this transaction one step of the document's history."""
        set_local(cur, "undoredo.scope", "%s:%d" % (OBJECT_TYPE, doc_id))
        set_local(cur, "undoredo.label", label)
        set_actor(cur)

    def document_title(cur, doc_id):
        cur.execute("SELECT title FROM editor.document WHERE id = %s", (doc_id,))
        row = cur.fetchone()
        if row is None:
            abort(404, "No such document.")
        return row[0]

    def ordinal(cur, doc_id, paragraph_id):
        """The paragraph's 1-based place in the document, None if it is gone."""
        cur.execute("""SELECT n FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS n
                                        FROM editor.paragraph WHERE document_id = %s) AS p
                        WHERE id = %s""", (doc_id, paragraph_id))
        row = cur.fetchone()
        return None if row is None else row[0]

    def back(doc_id):
        return redirect(url_for("show_document", doc_id=doc_id))

    @app.errorhandler(psycopg2.Error)
    def database_error(exc):
        # Any other database error: its message, never a traceback.
        message = getattr(exc.diag, "message_primary", None) or str(exc)
        return render_template("error.html", message=message), 500

    @app.get("/")
    def index():
        with db(), db().cursor() as cur:
            cur.execute("SELECT id, title FROM editor.document ORDER BY id")
            documents = cur.fetchall()
        return render_template("index.html", documents=documents)

    @app.post("/documents")
    def create_document():
        title = request.form.get("title", "").strip() or "Untitled"
        with db(), db().cursor() as cur:
            cur.execute("INSERT INTO editor.document (title) VALUES (%s) RETURNING id", (title,))
            doc_id = cur.fetchone()[0]
            # A new document starts with an empty history, whatever an
            # earlier database with the same ids left behind.
            cur.execute(sql.SQL("SELECT {}(%s, %s)").format(ext_function(cur, "undoredo_clear")),
                        (OBJECT_TYPE, doc_id))
        return back(doc_id)

    @app.get("/documents/<int:doc_id>")
    def show_document(doc_id):
        with db(), db().cursor() as cur:
            title = document_title(cur, doc_id)
            cur.execute("""SELECT id, body FROM editor.paragraph
                            WHERE document_id = %s ORDER BY position, id""", (doc_id,))
            paragraphs = cur.fetchall()
            undo_count, redo_count = counts(cur, "undoredo_status", doc_id)
            mine = counts(cur, "undoredo_status", doc_id, g.user) if g.user else (0, 0)
            cur.execute(sql.SQL("""SELECT step, state, label, created_at, changes, actor, reverts
                                     FROM {}(%s, %s) ORDER BY step""").format(
                            ext_function(cur, "undoredo_history")), (OBJECT_TYPE, doc_id))
            history = cur.fetchall()
            changes, changes_error = step_changes(cur, doc_id)
        # the steps that a refusal on this page names as in the way
        blockers = [message["blocker"]
                    for _, message in get_flashed_messages(with_categories=True)
                    if isinstance(message, dict) and message.get("blocker")]
        return render_template("document.html", doc_id=doc_id, title=title, blockers=blockers,
                               paragraphs=paragraphs, undo_count=undo_count,
                               redo_count=redo_count, my_undo_count=mine[0],
                               my_redo_count=mine[1], history=history,
                               changes=changes, changes_error=changes_error)

    def step_changes(cur, doc_id):
        """What each step of the document changed, by step, from
        undoredo_changes, and None; or None and why they cannot be listed
        (the page then shows the history without them)."""
        cur.execute("SAVEPOINT step_changes")
        try:
            cur.execute(sql.SQL("""
                SELECT h.step, c.op, t.relname, c.key, c.old, c.new
                  FROM {history}(%(type)s, %(id)s) AS h
                 CROSS JOIN LATERAL {changes}(%(type)s, %(id)s, h.step) AS c
                  LEFT JOIN pg_catalog.pg_class AS t ON t.oid OPERATOR(pg_catalog.=) c.tbl
                 ORDER BY h.step, c.seq""").format(
                    history=ext_function(cur, "undoredo_history"),
                    changes=ext_function(cur, "undoredo_changes")),
                {"type": OBJECT_TYPE, "id": doc_id})
            rows = cur.fetchall()
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK TO SAVEPOINT step_changes")
            app.logger.warning("undoredo_changes failed: %s", exc)
            return None, getattr(exc.diag, "message_primary", None) or str(exc)
        cur.execute("RELEASE SAVEPOINT step_changes")
        changes = {}
        for step, op, table, key, old, new in rows:
            changes.setdefault(step, []).append(describe_change(op, table, key, old, new))
        return changes, None

    @app.post("/documents/<int:doc_id>/title")
    def rename_document(doc_id):
        title = request.form.get("title", "").strip() or "Untitled"
        with db(), db().cursor() as cur:
            document_title(cur, doc_id)
            begin_step(cur, doc_id, "Rename document")
            cur.execute("UPDATE editor.document SET title = %s WHERE id = %s", (title, doc_id))
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/paragraphs")
    def add_paragraph(doc_id):
        body = request.form.get("body", "").strip()
        if not body:
            flash("Write something first.", "info")
            return back(doc_id)
        with db(), db().cursor() as cur:
            document_title(cur, doc_id)
            begin_step(cur, doc_id, "Add paragraph")
            cur.execute("""INSERT INTO editor.paragraph (document_id, position, body)
                           SELECT %s, coalesce(max(position), 0) + 1, %s
                             FROM editor.paragraph WHERE document_id = %s""",
                        (doc_id, body, doc_id))
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/paragraphs/<int:paragraph_id>")
    def edit_paragraph(doc_id, paragraph_id):
        body = request.form.get("body", "").strip()
        with_history = request.form.get("history", "1") == "1"
        with db(), db().cursor() as cur:
            document_title(cur, doc_id)
            n = ordinal(cur, doc_id, paragraph_id)
            if n is None:
                flash("That paragraph no longer exists.", "info")
                return back(doc_id)
            if with_history:
                begin_step(cur, doc_id, "Edit paragraph %d" % n)
            cur.execute("UPDATE editor.paragraph SET body = %s WHERE id = %s",
                        (body, paragraph_id))
        if not with_history:
            flash("Paragraph %d saved without history: undo cannot take it back." % n, "info")
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/paragraphs/<int:paragraph_id>/delete")
    def delete_paragraph(doc_id, paragraph_id):
        with db(), db().cursor() as cur:
            document_title(cur, doc_id)
            n = ordinal(cur, doc_id, paragraph_id)
            if n is not None:
                begin_step(cur, doc_id, "Delete paragraph %d" % n)
                cur.execute("DELETE FROM editor.paragraph WHERE id = %s", (paragraph_id,))
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/paragraphs/<int:paragraph_id>/up")
    def move_up(doc_id, paragraph_id):
        with db(), db().cursor() as cur:
            document_title(cur, doc_id)
            cur.execute("""SELECT id, position FROM editor.paragraph
                            WHERE document_id = %s ORDER BY position, id""", (doc_id,))
            order = cur.fetchall()
            ids = [pid for pid, _ in order]
            n = ids.index(paragraph_id) + 1 if paragraph_id in ids else None
            if n is not None and n > 1:
                (above, above_pos), (this, this_pos) = order[n - 2], order[n - 1]
                begin_step(cur, doc_id, "Move paragraph %d up" % n)
                # One statement that swaps the two positions: one step of
                # two row changes.
                cur.execute("""UPDATE editor.paragraph
                                  SET position = CASE id WHEN %s THEN %s ELSE %s END
                                WHERE id IN (%s, %s)""",
                            (this, above_pos, this_pos, this, above))
        return back(doc_id)

    def step_names(cur, doc_id, steps):
        """'step 7 ("Edit paragraph 1", by alice)' for each of the steps."""
        cur.execute(sql.SQL("SELECT step, label, actor FROM {}(%s, %s) WHERE step = ANY (%s)")
                    .format(ext_function(cur, "undoredo_history")),
                    (OBJECT_TYPE, doc_id, list(steps)))
        found = {step: (label, actor) for step, label, actor in cur.fetchall()}
        names = {}
        for step in steps:
            label, actor = found.get(step, (None, None))
            about = (["\u201c%s\u201d" % label] if label else []) + \
                (["by " + actor] if actor else [])
            names[step] = "step %d (%s)" % (step, ", ".join(about)) if about else "step %d" % step
        return names

    def replay(doc_id, verb, function, *more, step=None):
        """Undo, redo or revert (`verb`) by the page's user: `function` of
        the extension with the arguments `more` after the document's id;
        `step`: the step a revert takes back.  A refusal is shown on the
        page; the form's force=1 overwrites what the refusal protected."""
        what = verb if step is None else "%s step %d" % (verb, step)
        force = request.form.get("force") == "1"
        try:
            with db(), db().cursor() as cur:
                document_title(cur, doc_id)
                set_actor(cur)
                if force:
                    set_local(cur, "undoredo.on_conflict", "overwrite")
                counts(cur, function, doc_id, *more)
        except psycopg2.Error as exc:
            if exc.pgcode in REFUSED:
                # the page was stale: the step was undone or forgotten since
                message = exc.diag.message_primary
                flash(message[:1].upper() + message[1:] + ".", "info")
                return back(doc_id)
            if exc.pgcode != CONFLICT:
                raise
            later = LATER_STEP.match(exc.diag.message_detail or "")
            if later is None:
                # a write outside the history: overwriting it is the user's call
                flash({"text": "Cannot %s: something this step changed was edited outside "
                               "the document's history since, and the %s would overwrite "
                               "that edit. The database says: %s."
                               % (what, verb, exc.diag.message_primary),
                       "retry": url_for(request.endpoint, **request.view_args),
                       "retry_id": "force-" + verb,
                       "retry_label": "%s anyway (overwrite)" % verb.capitalize()},
                      "conflict")
            else:
                # a later step of the history: overwriting would take back
                # that step's change too, unrecorded; it has to go first
                blocker, replayed = int(later.group(1)), int(later.group(2))
                with db(), db().cursor() as cur:
                    names = step_names(cur, doc_id, (replayed, blocker))
                flash({"text": "Cannot %s %s: %s changed the same row of table \u201c%s\u201d "
                               "after it. Undo or revert step %d first."
                               % (verb, names[replayed], names[blocker],
                                  exc.diag.table_name, blocker),
                       "blocker": blocker},
                      "conflict")
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/undo")
    def undo(doc_id):
        return replay(doc_id, "undo", "undoredo_undo", 1)

    @app.post("/documents/<int:doc_id>/redo")
    def redo(doc_id):
        return replay(doc_id, "redo", "undoredo_redo", 1)

    @app.post("/documents/<int:doc_id>/undo-mine")
    def undo_mine(doc_id):
        if g.user is None:
            abort(400, "Pick who you are first.")
        return replay(doc_id, "undo", "undoredo_undo", 1, g.user)

    @app.post("/documents/<int:doc_id>/redo-mine")
    def redo_mine(doc_id):
        if g.user is None:
            abort(400, "Pick who you are first.")
        return replay(doc_id, "redo", "undoredo_redo", 1, g.user)

    @app.post("/documents/<int:doc_id>/steps/<int:step>/revert")
    def revert(doc_id, step):
        return replay(doc_id, "revert", "undoredo_revert", step, step=step)

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = create_app(os.environ.get("EDITOR_DSN", ""))
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
