# cmake -DIN=<file> -DOUT=<file.c> -DSYMBOL=<name> -P embed-text.cmake
# Writes a C file defining `const char SYMBOL[]`: the bytes of IN and a NUL. Used to embed the
# Python worker's runner in the binary, so that it finds the runner wherever it is run from.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by scripts/embed-text.cmake: do not edit. */\nconst char ${SYMBOL}[] = {\n${body}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
