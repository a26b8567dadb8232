"""The clinic's list of therapeutic modalities (the choices of a preparation or integration note), edited by an
admin: one modality per line, starting from the shipped defaults with their sources."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tracker import audit
from tracker.admin import bp
from tracker.admin.forms import ModalitiesForm
from tracker.extensions import db
from tracker.modalities import ModalityError, clinic_modalities, defaults, parse_list
from tracker.models import Clinic, Role
from tracker.permissions import actor, require_role


@bp.route("/modalities", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def modalities() -> ResponseReturnValue:
    """Show and save the list. No patient data: the change is audited as a clinic setting."""
    clinic = db.session.get_one(Clinic, actor().clinic_id)
    current = clinic_modalities(clinic)
    form = ModalitiesForm()
    if not form.is_submitted():
        form.names.data = "\n".join(current)
    elif form.validate():
        try:
            wanted = parse_list(form.names.data or "")
        except ModalityError as error:
            form.names.errors.append(str(error))
        else:
            if wanted != current:
                clinic.modalities = wanted
                audit.record(
                    actor(),
                    "clinic.modalities",
                    "Changed the clinic's list of therapeutic modalities",
                    data={
                        "added": [n for n in wanted if n not in current],
                        "removed": [n for n in current if n not in wanted],
                    },
                )
            db.session.commit()
            flash("Modalities saved." if wanted != current else "Nothing had changed.", "success")
            return redirect(url_for("admin.modalities")), 303
    status = 422 if form.errors else 200
    return render_template(
        "admin/modalities.html", form=form, clinic=clinic, defaults=defaults(), edited=clinic.modalities is not None
    ), status
