/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-transport.h"

G_BEGIN_DECLS

#define FST_TYPE_SERIAL_TRANSPORT (fst_serial_transport_get_type())
G_DECLARE_FINAL_TYPE(FstSerialTransport, fst_serial_transport, FST, SERIAL_TRANSPORT, FstTransport)

FstTransport *fst_serial_transport_new(const gchar *port, guint baud_rate);
gboolean fst_serial_transport_is_pty(FstSerialTransport *self);

G_END_DECLS
