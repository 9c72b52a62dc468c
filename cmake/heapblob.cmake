# heapblob.cmake - builds the heap sampler injected into targets
# (src/heapblob/, docs/design.md §12.1) into a flat image and embeds it as
# heapblob_image[] / heapblob_image_len (src/heapblob.h).
#
# The blob is compiled with flags of its own, none of the build's: it runs
# inside other processes, so the sanitizers, stack protector and CET of a
# build must not reach it. cmake/heapblob_check.cmake fails the build when
# the linked blob has a relocation, an undefined symbol, a section that
# is not code, read-only data or the two areas, or does not fit in
# HEAPABI_CODE_SIZE.
set(HB_SRC ${CMAKE_SOURCE_DIR}/src/heapblob)
set(HB_OUT ${CMAKE_BINARY_DIR}/heapblob)
set(HB_CFLAGS -O2 -g -fPIC -ffreestanding -fno-builtin -nostdlib
    -fno-stack-protector -fno-stack-check -fcf-protection=none
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fvisibility=hidden
    -fno-plt -fno-jump-tables -Wall -Wextra -Werror
    -I${CMAKE_SOURCE_DIR}/src -I${HB_SRC})
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  # no memset/memcpy calls made up from loops
  list(APPEND HB_CFLAGS -fno-tree-loop-distribute-patterns)
endif()
set(HB_DEPS ${HB_SRC}/hooks.S ${HB_SRC}/sample.c ${HB_SRC}/layout.h
    ${HB_SRC}/blob.ld.S ${CMAKE_SOURCE_DIR}/src/heapabi.h
    ${CMAKE_SOURCE_DIR}/cmake/heapblob_check.cmake
    ${CMAKE_SOURCE_DIR}/cmake/embed.cmake)
add_custom_command(OUTPUT ${HB_OUT}/heapblob_image.c
  BYPRODUCTS ${HB_OUT}/heapblob.elf ${HB_OUT}/heapblob.bin
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HB_OUT}
  COMMAND ${CMAKE_C_COMPILER} -E -P -undef -x c -I${HB_SRC} ${HB_SRC}/blob.ld.S
          -o ${HB_OUT}/blob.ld
  COMMAND ${CMAKE_C_COMPILER} ${HB_CFLAGS} -c ${HB_SRC}/hooks.S -o ${HB_OUT}/hooks.o
  COMMAND ${CMAKE_C_COMPILER} ${HB_CFLAGS} -c ${HB_SRC}/sample.c -o ${HB_OUT}/sample.o
  COMMAND ${CMAKE_C_COMPILER} -nostdlib -shared -Wl,-T,${HB_OUT}/blob.ld
          -Wl,-z,norelro -Wl,-z,noexecstack -Wl,--no-undefined -Wl,--build-id=none
          -o ${HB_OUT}/heapblob.elf ${HB_OUT}/hooks.o ${HB_OUT}/sample.o
  COMMAND ${CMAKE_COMMAND} -DELF=${HB_OUT}/heapblob.elf -DBIN=${HB_OUT}/heapblob.bin
          -DREADELF=${CMAKE_READELF} -DNM=${CMAKE_NM} -DOBJCOPY=${CMAKE_OBJCOPY}
          -P ${CMAKE_SOURCE_DIR}/cmake/heapblob_check.cmake
  COMMAND ${CMAKE_COMMAND} -DOUT=${HB_OUT}/heapblob_image.c
          -DFILES=heapblob_image=${HB_OUT}/heapblob.bin
          -P ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  DEPENDS ${HB_DEPS}
  COMMENT "building the heap sampler blob (src/heapblob/)" VERBATIM)
