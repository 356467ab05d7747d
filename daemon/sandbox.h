/* SPDX-License-Identifier: Apache-2.0 */
/* The steady-state system call filter. */
#pragma once

/*
 * Install the seccomp filter on every thread of the process (TSYNC). A
 * call outside the allowed set kills the process. -1 when the filter
 * cannot be installed: the caller stops (fail closed).
 */
int sandbox_enter(void);
