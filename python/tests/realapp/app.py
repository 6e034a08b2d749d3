"""A small document editor as a Flask-SQLAlchemy application would be
written, using undoredo.flask: documents with paragraphs (text or figure,
joined-table inheritance), their comments and label links (delete-orphan),
tags (many-to-many), a tree of sections (self-referential), and optimistic
locking (version_id_col).  Keys are UUIDs; columns cover Enum, JSONB,
Numeric, timestamps with onupdate and LargeBinary.

Every edit is one request, one transaction, one undo step of
"document:<uuid>"; the tables are tracked once, when the app is created.
"""
import datetime
import enum
import uuid

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm.exc import StaleDataError

import undoredo
from undoredo.flask import UndoRedo

db = SQLAlchemy(engine_options={"future": True}, session_options={"future": True})
undo_redo = UndoRedo()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class Status(enum.Enum):
    draft = "draft"
    review = "review"
    published = "published"


document_tag = db.Table(
    "ra_document_tag",
    db.Column("document_id", UUID(as_uuid=True), db.ForeignKey("ra_document.id"),
              primary_key=True),
    db.Column("tag_id", UUID(as_uuid=True), db.ForeignKey("ra_tag.id"), primary_key=True))


class Document(db.Model):
    __tablename__ = "ra_document"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title = db.Column(db.String(200), nullable=False)
    status = db.Column(db.Enum(Status, name="ra_status"), nullable=False, default=Status.draft)
    meta = db.Column(JSONB, nullable=False, default=dict)
    price = db.Column(db.Numeric(10, 2))
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=now)
    updated_at = db.Column(db.DateTime(timezone=True), nullable=False, default=now, onupdate=now)
    version = db.Column(db.Integer, nullable=False)
    paragraphs = db.relationship("Paragraph", cascade="all, delete-orphan",
                                 order_by="Paragraph.position", back_populates="document")
    sections = db.relationship("Section", order_by="Section.title",
                               primaryjoin="and_(Section.document_id == Document.id,"
                                           " Section.parent_id.is_(None))",
                               viewonly=True)
    tags = db.relationship("Tag", secondary=document_tag, order_by="Tag.name")
    __mapper_args__ = {"version_id_col": version}


class Tag(db.Model):
    __tablename__ = "ra_tag"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name = db.Column(db.String, nullable=False, unique=True)


class Paragraph(db.Model):
    __tablename__ = "ra_paragraph"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    document_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_document.id"), nullable=False)
    position = db.Column(db.Integer, nullable=False)
    kind = db.Column(db.String(20), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    document = db.relationship("Document", back_populates="paragraphs")
    comments = db.relationship("Comment", cascade="all, delete-orphan",
                               order_by="Comment.created_at")
    label_links = db.relationship("LabelLink", cascade="all, delete-orphan")
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "text"}


class Figure(Paragraph):
    __tablename__ = "ra_figure"
    id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_paragraph.id"), primary_key=True)
    image = db.Column(db.LargeBinary, nullable=False)
    caption = db.Column(db.String)
    __mapper_args__ = {"polymorphic_identity": "figure"}


class Comment(db.Model):
    __tablename__ = "ra_comment"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    paragraph_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_paragraph.id"),
                             nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=now)


class Label(db.Model):
    __tablename__ = "ra_label"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name = db.Column(db.String, nullable=False, unique=True)


class LabelLink(db.Model):                 # composite key
    __tablename__ = "ra_label_link"
    paragraph_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_paragraph.id"),
                             primary_key=True)
    label_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_label.id"), primary_key=True)
    weight = db.Column(db.Integer, nullable=False, default=1)
    label = db.relationship("Label")


class Section(db.Model):                   # a tree
    __tablename__ = "ra_section"
    id = db.Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    document_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_document.id"),
                            nullable=False)
    parent_id = db.Column(UUID(as_uuid=True), db.ForeignKey("ra_section.id"))
    title = db.Column(db.String, nullable=False)
    children = db.relationship("Section", cascade="all, delete-orphan",
                               backref=db.backref("parent", remote_side=[id]),
                               order_by="Section.title")


def as_json(doc):
    def section(s):
        return {"id": str(s.id), "title": s.title, "children": [section(c) for c in s.children]}

    def paragraph(p):
        out = {"id": str(p.id), "kind": p.kind, "position": p.position, "body": p.body,
               "comments": [c.body for c in p.comments],
               "labels": sorted((l.label.name, l.weight) for l in p.label_links)}
        if isinstance(p, Figure):
            out.update(image=p.image.hex(), caption=p.caption)
        return out

    return {"id": str(doc.id), "title": doc.title, "status": doc.status.value, "meta": doc.meta,
            "price": None if doc.price is None else str(doc.price),
            "created_at": doc.created_at.isoformat(), "updated_at": doc.updated_at.isoformat(),
            "version": doc.version, "tags": [t.name for t in doc.tags],
            "paragraphs": [paragraph(p) for p in doc.paragraphs],
            "sections": [section(s) for s in doc.sections]}


def create_app(uri, track=True):
    """The app.  The tables must exist (migrations run first); they are
    tracked here, once, unless track is False."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    db.init_app(app)
    undo_redo.init_app(app, track=db.metadata if track else None)

    def document(doc_id):
        doc = db.session.get(Document, uuid.UUID(doc_id))
        if doc is None:
            abort(404)
        return doc

    def label_named(name):
        label = db.session.execute(db.select(Label).filter_by(name=name)).scalar_one_or_none()
        return label or Label(name=name)

    def edit(doc_id, label, change):
        """One edit: one transaction, one undo step of the document."""
        with undo_redo.capture(db.session, "document", doc_id, label=label):
            result = change()
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            abort(409)
        return result

    @app.post("/docs")
    def create_document():
        data = request.get_json()
        doc_id = uuid.uuid4()

        def change():
            doc = Document(id=doc_id, title=data["title"], meta=data.get("meta", {}),
                           status=Status(data.get("status", "draft")), price=data.get("price"))
            db.session.add(doc)
        edit(str(doc_id), "Create document", change)
        return jsonify(as_json(document(str(doc_id)))), 201

    @app.post("/import")
    def import_document():
        """A document with its paragraphs, created without history."""
        data = request.get_json()
        doc = Document(title=data["title"])
        for n, p in enumerate(data["paragraphs"], 1):
            fields = dict(position=n, body=p.get("body", ""))
            if "image" in p:
                paragraph = Figure(image=bytes.fromhex(p["image"]), caption=p.get("caption"),
                                   **fields)
            else:
                paragraph = Paragraph(**fields)
            paragraph.comments = [Comment(body=b) for b in p.get("comments", [])]
            paragraph.label_links = [LabelLink(label=label_named(name), weight=w)
                                     for name, w in p.get("labels", [])]
            doc.paragraphs.append(paragraph)
        db.session.add(doc)
        db.session.commit()
        return jsonify({"id": str(doc.id)}), 201

    @app.get("/docs/<doc_id>")
    def show(doc_id):
        return jsonify(as_json(document(doc_id)))

    @app.patch("/docs/<doc_id>")
    def update_document(doc_id):
        data = request.get_json()
        doc = document(doc_id)
        if data.get("version", doc.version) != doc.version:
            abort(409)

        def change():
            for key in ("title", "meta", "price"):
                if key in data:
                    setattr(doc, key, data[key])
            if "status" in data:
                doc.status = Status(data["status"])
        edit(doc_id, "Edit document", change)
        return jsonify(as_json(doc))

    @app.post("/docs/<doc_id>/paragraphs")
    def add_paragraph(doc_id):
        data = request.get_json()
        doc = document(doc_id)

        def change():
            fields = dict(position=len(doc.paragraphs) + 1, body=data.get("body", ""))
            if "image" in data:
                p = Figure(image=bytes.fromhex(data["image"]), caption=data.get("caption"),
                           **fields)
            else:
                p = Paragraph(**fields)
            p.comments = [Comment(body=b) for b in data.get("comments", [])]
            p.label_links = [LabelLink(label=label_named(n), weight=w)
                             for n, w in data.get("labels", [])]
            doc.paragraphs.append(p)
            db.session.flush()
            return p.id
        pid = edit(doc_id, "Add paragraph", change)
        return jsonify({"id": str(pid)}), 201

    @app.delete("/docs/<doc_id>/paragraphs/<pid>")
    def remove_paragraph(doc_id, pid):
        doc = document(doc_id)

        def change():
            # delete-orphan: the flush deletes the paragraph, its figure
            # row, its comments and its label links.
            doc.paragraphs.remove(db.session.get(Paragraph, uuid.UUID(pid)))
        edit(doc_id, "Remove paragraph", change)
        return "", 204

    @app.post("/docs/<doc_id>/paragraphs/<pid>/comments")
    def comment(doc_id, pid):
        def change():
            db.session.get(Paragraph, uuid.UUID(pid)).comments.append(
                Comment(body=request.get_json()["body"]))
        edit(doc_id, "Comment", change)
        return "", 201

    @app.put("/docs/<doc_id>/tags")
    def set_tags(doc_id):
        doc = document(doc_id)
        names = request.get_json()

        def change():
            tags = []
            for name in names:
                tag = db.session.execute(db.select(Tag).filter_by(name=name)).scalar_one_or_none()
                tags.append(tag or Tag(name=name))
            doc.tags = tags
        edit(doc_id, "Tag", change)
        return jsonify(as_json(doc))

    @app.post("/docs/<doc_id>/sections")
    def add_section(doc_id):
        data = request.get_json()

        def change():
            s = Section(document_id=uuid.UUID(doc_id), title=data["title"],
                        parent_id=uuid.UUID(data["parent"]) if data.get("parent") else None)
            db.session.add(s)
            db.session.flush()
            return s.id
        sid = edit(doc_id, "Add section", change)
        return jsonify({"id": str(sid)}), 201

    @app.delete("/docs/<doc_id>/sections/<sid>")
    def remove_section(doc_id, sid):
        def change():
            db.session.delete(db.session.get(Section, uuid.UUID(sid)))   # the subtree too
        edit(doc_id, "Remove section", change)
        return "", 204

    def replay(action, doc_id):
        call = undo_redo.undo if action == "undo" else undo_redo.redo
        try:
            counts = call(db.session, "document", doc_id, force=request.args.get("force") == "1")
        except undoredo.Conflict as c:
            db.session.rollback()
            return jsonify({"conflict": str(c), "step": c.step, "label": c.label,
                            "table": c.table, "key": c.key}), 409
        db.session.commit()
        return jsonify({"undo": counts[0], "redo": counts[1]})

    @app.post("/docs/<doc_id>/undo")
    def undo(doc_id):
        return replay("undo", doc_id)

    @app.post("/docs/<doc_id>/redo")
    def redo(doc_id):
        return replay("redo", doc_id)

    @app.get("/docs/<doc_id>/history")
    def history(doc_id):
        return jsonify([{"position": h.position, "state": h.state, "label": h.label,
                         "changes": h.changes}
                        for h in undo_redo.history(db.session, "document", doc_id)])

    return app
