/* SPDX-License-Identifier: Apache-2.0 */
/* signetd --init: a new state directory with the embedded SoftHSMv2 token. */
#pragma once

#include "daemon/conf.h"

/* Create and populate DIR; refuses an existing non-empty directory. 0 or an error. */
int init_state_dir(const char *dir);
