// The wrappers are static inline in the header; this file gives the target something to build.
#include "hearth_system.h"
