#include "b/b_int.h"
