/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstTransport"

#include "fst-transport.h"

#include "fst-error.h"

typedef struct {
	gchar *name; /* (owned): the port name shown to operators */
	guint baud_rate;
	gboolean is_open;
	guint64 bytes_written;
	guint64 bytes_read;
} FstTransportPrivate;

G_DEFINE_TYPE_WITH_PRIVATE(FstTransport, fst_transport, G_TYPE_OBJECT)
#define GET_PRIVATE(o) (fst_transport_get_instance_private(o))

/**
 * fst_transport_open:
 * @self: an #FstTransport
 * @error: (nullable): return location
 *
 * Opens the link. Opening an open transport does nothing.
 *
 * Returns: %TRUE on success; %FST_ERROR_NOT_FOUND, %FST_ERROR_BUSY or
 * %FST_ERROR_PERMISSION_DENIED naming the port otherwise
 */
gboolean
fst_transport_open(FstTransport *self, GError **error)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	FstTransportClass *klass = FST_TRANSPORT_GET_CLASS(self);

	g_return_val_if_fail(FST_IS_TRANSPORT(self), FALSE);
	if (priv->is_open)
		return TRUE;
	if (klass->open != NULL && !klass->open(self, error))
		return FALSE;
	priv->is_open = TRUE;
	return TRUE;
}

/**
 * fst_transport_close:
 * @self: an #FstTransport
 *
 * Closes the link; closing a closed transport does nothing.
 */
void
fst_transport_close(FstTransport *self)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	FstTransportClass *klass = FST_TRANSPORT_GET_CLASS(self);

	g_return_if_fail(FST_IS_TRANSPORT(self));
	if (!priv->is_open)
		return;
	if (klass->close != NULL)
		klass->close(self);
	priv->is_open = FALSE;
}

/**
 * fst_transport_read:
 * @self: an #FstTransport
 * @buf: (out caller-allocates) (array length=len): destination
 * @len: size of @buf
 * @timeout_ms: how long to wait for the first byte
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Waits up to @timeout_ms for at least one byte and returns what is available,
 * at most @len bytes.
 *
 * Returns: the number of bytes read (> 0), or -1 with %FST_ERROR_TIMED_OUT,
 * %FST_ERROR_DISCONNECTED or %FST_ERROR_CANCELLED
 */
gssize
fst_transport_read(FstTransport *self,
                   guint8 *buf,
                   gsize len,
                   guint timeout_ms,
                   GCancellable *cancellable,
                   GError **error)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	FstTransportClass *klass = FST_TRANSPORT_GET_CLASS(self);
	gssize n;

	g_return_val_if_fail(FST_IS_TRANSPORT(self), -1);
	g_return_val_if_fail(buf != NULL && len > 0, -1);
	if (!priv->is_open) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "port %s is not open", priv->name);
		return -1;
	}
	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		fst_error_convert_gio(error);
		return -1;
	}
	n = klass->read(self, buf, len, timeout_ms, cancellable, error);
	if (n > 0)
		priv->bytes_read += (guint64)n;
	return n;
}

/**
 * fst_transport_write:
 * @self: an #FstTransport
 * @buf: (array length=len): bytes to send
 * @len: length of @buf
 * @timeout_ms: how long all of it may take
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location
 *
 * Returns: %TRUE when all of @buf was written
 */
gboolean
fst_transport_write(FstTransport *self,
                    const guint8 *buf,
                    gsize len,
                    guint timeout_ms,
                    GCancellable *cancellable,
                    GError **error)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	FstTransportClass *klass = FST_TRANSPORT_GET_CLASS(self);

	g_return_val_if_fail(FST_IS_TRANSPORT(self), FALSE);
	if (!priv->is_open) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "port %s is not open", priv->name);
		return FALSE;
	}
	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	if (!klass->write(self, buf, len, timeout_ms, cancellable, error))
		return FALSE;
	priv->bytes_written += len;
	return TRUE;
}

/**
 * fst_transport_get_name:
 * @self: an #FstTransport
 *
 * Returns: (transfer none): the port name, e.g. "/dev/ttyUSB0", for messages
 */
const gchar *
fst_transport_get_name(FstTransport *self)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FST_IS_TRANSPORT(self), NULL);
	return priv->name != NULL ? priv->name : "(unnamed)";
}

void
fst_transport_set_name(FstTransport *self, const gchar *name)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	g_return_if_fail(FST_IS_TRANSPORT(self));
	g_free(priv->name);
	priv->name = g_strdup(name);
}

/**
 * fst_transport_get_baud_rate:
 * @self: an #FstTransport
 *
 * Returns: the line rate in bits per second, or 0 when the link has none (USB
 * bulk, a socket), so that dialects can size their timeouts
 */
guint
fst_transport_get_baud_rate(FstTransport *self)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	g_return_val_if_fail(FST_IS_TRANSPORT(self), 0);
	return priv->baud_rate;
}

void
fst_transport_set_baud_rate(FstTransport *self, guint baud_rate)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	g_return_if_fail(FST_IS_TRANSPORT(self));
	priv->baud_rate = baud_rate;
}

/**
 * fst_transport_get_bytes_written:
 * @self: an #FstTransport
 *
 * Returns: bytes written since the transport was made, for wire-time figures
 */
guint64
fst_transport_get_bytes_written(FstTransport *self)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	return priv->bytes_written;
}

/**
 * fst_transport_get_bytes_read:
 * @self: an #FstTransport
 *
 * Returns: bytes read since the transport was made
 */
guint64
fst_transport_get_bytes_read(FstTransport *self)
{
	FstTransportPrivate *priv = GET_PRIVATE(self);
	return priv->bytes_read;
}

static void
fst_transport_finalize(GObject *object)
{
	FstTransport *self = FST_TRANSPORT(object);
	FstTransportPrivate *priv = GET_PRIVATE(self);
	g_free(priv->name);
	G_OBJECT_CLASS(fst_transport_parent_class)->finalize(object);
}

static void
fst_transport_dispose(GObject *object)
{
	fst_transport_close(FST_TRANSPORT(object));
	G_OBJECT_CLASS(fst_transport_parent_class)->dispose(object);
}

static void
fst_transport_init(FstTransport *self)
{
}

static void
fst_transport_class_init(FstTransportClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = fst_transport_dispose;
	object_class->finalize = fst_transport_finalize;
}
