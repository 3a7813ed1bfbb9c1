"""The session and thumbnail wiring both item models share."""
from __future__ import annotations

from photoclust_app.core.editing.session import Session


class SessionBound:
    """Mixin for a QAbstractListModel that adapts a Session: (re)binds its listener and the
    thumbnail loader's signal in one model reset. Subclasses define ``_reset_rows(session)``,
    ``_on_event(event, payload)`` and ``_on_thumbnail(photo_id)``."""

    _session: Session | None = None
    _unsubscribe = None
    thumbnails = None

    @property
    def session(self) -> Session | None:
        return self._session

    def set_session(self, session: Session | None, thumbnails=None) -> None:
        self.beginResetModel()
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self.thumbnails is not None:
            self.thumbnails.loaded.disconnect(self._on_thumbnail)
        self._session = session
        self.thumbnails = thumbnails
        self._reset_rows(session)
        if session is not None:
            self._unsubscribe = session.subscribe(self._on_event)
        if thumbnails is not None:
            thumbnails.loaded.connect(self._on_thumbnail)
        self.endResetModel()
