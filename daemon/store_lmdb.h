/* SPDX-License-Identifier: Apache-2.0 */
/* The LMDB backend of the store: for store.c and its unit test only (the daemon uses store.h). */
#pragma once

#include <lmdb.h>

/* The project error of an LMDB return code: an MDB_* code, or the errno of a failed write. */
int store_error(int rc);
