"""Demo editor for undoredo: documents made of paragraphs, with Undo and Redo.

Every write the user makes is one transaction that names the document it
edits and what the user did, through transaction-local settings:

    SELECT set_config('undoredo.scope', 'document:<id>', true),
           set_config('undoredo.label', 'Edit paragraph 2', true);

so the extension records it as one labelled step of that document's history.
The Undo and Redo buttons call undoredo_undo / undoredo_redo and show the
counts of undoredo_status; the history panel lists undoredo_history.

"Save without history" writes a paragraph with no scope, as another program
would: a later undo of a step that touched that paragraph is refused by the
extension (SQLSTATE UR001), and the page shows why, with an "Undo anyway"
button that retries with undoredo.on_conflict = 'overwrite'.

Plain psycopg2, one connection per request, server-rendered forms (POST,
then redirect).  The tables are those of schema.sql.  The extension's
functions are called qualified by the schema the extension lives in.

Run:  /usr/bin/python3 examples/editor/app.py [--host 127.0.0.1] [--port 5000]
It connects with libpq's PG* environment variables, or EDITOR_DSN.
"""
import argparse
import os

import psycopg2
from psycopg2 import sql
from flask import (Flask, abort, flash, g, redirect, render_template, request,
                   url_for)

CONFLICT = "UR001"          # SQLSTATE of undoredo's conflict error
OBJECT_TYPE = "document"    # scopes are 'document:<id>'


def create_app(dsn=""):
    app = Flask(__name__)
    app.secret_key = os.urandom(24)     # only signs the flash messages
    app.config["DSN"] = dsn

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

    def counts(cur, function, doc_id, steps=None):
        """(undo_count, redo_count) from undoredo_status/_undo/_redo."""
        args = [OBJECT_TYPE, doc_id] + ([] if steps is None else [steps])
        query = sql.SQL("SELECT undo_count, redo_count FROM {}({})").format(
            ext_function(cur, function),
            sql.SQL(", ").join(sql.Placeholder() * len(args)))
        cur.execute(query, args)
        return cur.fetchone()

    def begin_step(cur, doc_id, label):
        """Make the rest of this transaction one step of the document's history."""
        cur.execute("SELECT pg_catalog.set_config('undoredo.scope', %s, true),"
                    "       pg_catalog.set_config('undoredo.label', %s, true)",
                    ("%s:%d" % (OBJECT_TYPE, doc_id), label))

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
            cur.execute(sql.SQL("""SELECT step, state, label, created_at, changes
                                     FROM {}(%s, %s) ORDER BY step""").format(
                            ext_function(cur, "undoredo_history")), (OBJECT_TYPE, doc_id))
            history = cur.fetchall()
        return render_template("document.html", doc_id=doc_id, title=title,
                               paragraphs=paragraphs, undo_count=undo_count,
                               redo_count=redo_count, history=history)

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

    def replay(doc_id, function, verb):
        force = request.form.get("force") == "1"
        try:
            with db(), db().cursor() as cur:
                document_title(cur, doc_id)
                if force:
                    cur.execute("SELECT pg_catalog.set_config('undoredo.on_conflict', "
                                "'overwrite', true)")
                counts(cur, function, doc_id, 1)
        except psycopg2.Error as exc:
            if exc.pgcode != CONFLICT:
                raise
            flash("Cannot %s: something this step changed was edited outside the "
                  "document's history since, and the %s would overwrite that edit. "
                  "The database says: %s." % (verb, verb, exc.diag.message_primary),
                  "conflict-" + verb)
        return back(doc_id)

    @app.post("/documents/<int:doc_id>/undo")
    def undo(doc_id):
        return replay(doc_id, "undoredo_undo", "undo")

    @app.post("/documents/<int:doc_id>/redo")
    def redo(doc_id):
        return replay(doc_id, "undoredo_redo", "redo")

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
