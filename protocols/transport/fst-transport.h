/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define FST_TYPE_TRANSPORT (fst_transport_get_type())
G_DECLARE_DERIVABLE_TYPE(FstTransport, fst_transport, FST, TRANSPORT, GObject)

/**
 * FstTransportClass:
 * @open: opens the link; idempotent
 * @close: closes the link; idempotent, never fails
 * @read: waits up to @timeout_ms for at least one byte and returns what is
 *   there, up to @len; %FST_ERROR_TIMED_OUT when nothing came,
 *   %FST_ERROR_DISCONNECTED when the link is gone
 * @write: writes all of @len within @timeout_ms
 *
 * Moves bytes, nothing else: framing, retries and timeouts of the protocol live
 * in the dialect (protocols/fsp/, ...). Dialects talk only to this class and
 * never include libserialport or libusb.
 */
struct _FstTransportClass {
	GObjectClass parent_class;
	gboolean (*open)(FstTransport *self, GError **error);
	void (*close)(FstTransport *self);
	gssize (*read)(FstTransport *self,
	               guint8 *buf,
	               gsize len,
	               guint timeout_ms,
	               GCancellable *cancellable,
	               GError **error);
	gboolean (*write)(FstTransport *self,
	                  const guint8 *buf,
	                  gsize len,
	                  guint timeout_ms,
	                  GCancellable *cancellable,
	                  GError **error);
	gpointer padding[8];
};

gboolean fst_transport_open(FstTransport *self, GError **error);
void fst_transport_close(FstTransport *self);
gssize fst_transport_read(FstTransport *self,
                          guint8 *buf,
                          gsize len,
                          guint timeout_ms,
                          GCancellable *cancellable,
                          GError **error);
gboolean fst_transport_write(FstTransport *self,
                             const guint8 *buf,
                             gsize len,
                             guint timeout_ms,
                             GCancellable *cancellable,
                             GError **error);
const gchar *fst_transport_get_name(FstTransport *self);
void fst_transport_set_name(FstTransport *self, const gchar *name);
guint fst_transport_get_baud_rate(FstTransport *self);
void fst_transport_set_baud_rate(FstTransport *self, guint baud_rate);
guint64 fst_transport_get_bytes_written(FstTransport *self);
guint64 fst_transport_get_bytes_read(FstTransport *self);

G_END_DECLS
