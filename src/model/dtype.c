/*
 * Element types: the Open Inference Protocol names ("FP32", "BYTES", ...) of enum mw_dtype and the
 * size of one element. One table, indexed by the enum value (the ABI fixes the values forever).
 */
#include <string.h>

#include "model/model.h"

struct dtype_info {
    const char *name;
    size_t size;
};

static const struct dtype_info dtypes[] = {
    [MW_DTYPE_INVALID] = {"INVALID", 0},
    [MW_BOOL] = {"BOOL", 1},
    [MW_UINT8] = {"UINT8", 1},
    [MW_UINT16] = {"UINT16", 2},
    [MW_UINT32] = {"UINT32", 4},
    [MW_UINT64] = {"UINT64", 8},
    [MW_INT8] = {"INT8", 1},
    [MW_INT16] = {"INT16", 2},
    [MW_INT32] = {"INT32", 4},
    [MW_INT64] = {"INT64", 8},
    [MW_FP32] = {"FP32", 4},
    [MW_FP64] = {"FP64", 8},
    [MW_BYTES] = {"BYTES", sizeof(struct mw_bytes)},
};

static bool dtype_valid(int dtype)
{
    return dtype > MW_DTYPE_INVALID && (size_t)dtype < MW_ARRAY_LEN(dtypes);
}

/*
 * The enum value of an Open Inference Protocol type name: exact, case-sensitive match of `len`
 * bytes of s (a slice: need not be NUL-terminated; s may be NULL when len is 0). FP16 and BF16
 * are not in the ABI. Returns MW_DTYPE_INVALID for anything unknown. Any thread.
 */
int dtype_parse(const char *s, size_t len)
{
    if (s == NULL)
        return MW_DTYPE_INVALID;
    for (int i = MW_DTYPE_INVALID + 1; (size_t)i < MW_ARRAY_LEN(dtypes); i++) {
        const char *name = dtypes[i].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return i;
    }
    return MW_DTYPE_INVALID;
}

/*
 * The name of a dtype ("FP32"); a static string, never NULL: "INVALID" for an unknown value.
 * Any thread.
 */
const char *dtype_name(int dtype)
{
    return dtype_valid(dtype) ? dtypes[dtype].name : dtypes[MW_DTYPE_INVALID].name;
}

/*
 * Bytes per element (sizeof(struct mw_bytes) for MW_BYTES); 0 for an unknown value. Any thread.
 */
size_t dtype_size(int dtype)
{
    return dtype_valid(dtype) ? dtypes[dtype].size : 0;
}
