"""Flask extensions, created unbound here and bound to the app in ``create_app``.

Keeping them out of ``tracker/__init__.py`` lets models and services import ``db`` without importing the app.
"""

from __future__ import annotations

from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from tracker.database import AppSession
from tracker.models.base import Base

# expire_on_commit=False: a view commits once, then renders what it loaded without reloading every row.
# AppSession: read requests read a snapshot and write their audit rows at commit (tracker/database.py).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False, "class_": AppSession})
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
bootstrap = Bootstrap5()
