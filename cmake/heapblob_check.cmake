# heapblob_check.cmake - refuses a heap sampler blob that would not run
# where it is injected, then writes its flat image:
#   cmake -DELF=heapblob.elf -DBIN=heapblob.bin -DREADELF=.. -DNM=.. -DOBJCOPY=..
#         -P heapblob_check.cmake
# The blob is mapped at any address with nobody to relocate it and only its
# code pages read-execute: any relocation (an absolute address), undefined
# symbol (a libc call, a memcpy the compiler made up) or section other
# than the header, code, read-only data and the two areas placed after it
# is an error, and so is an image larger than HEAPABI_CODE_SIZE.
file(REMOVE ${BIN})
execute_process(COMMAND ${READELF} -rW ${ELF} OUTPUT_VARIABLE relocs RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT relocs MATCHES "There are no relocations in this file")
  message(FATAL_ERROR "heap blob ${ELF} has relocations (absolute addresses or calls out):\n${relocs}")
endif()
execute_process(COMMAND ${NM} -u ${ELF} OUTPUT_VARIABLE undef RESULT_VARIABLE rc)
string(STRIP "${undef}" undef)
if(NOT rc EQUAL 0 OR NOT undef STREQUAL "")
  message(FATAL_ERROR "heap blob ${ELF} has undefined symbols (no libc, no libgcc):\n${undef}")
endif()
execute_process(COMMAND ${READELF} -SW ${ELF} OUTPUT_VARIABLE sections RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -S ${ELF} failed")
endif()
string(REPLACE "\n" ";" lines "${sections}")
foreach(line ${lines})
  # [Nr] Name Type Address Off Size ES Flg ...: allocated sections only
  if(line MATCHES "^ *\\[ *[0-9]+\\] +([^ ]+) +[A-Z_]+ +[0-9a-f]+ +[0-9a-f]+ +([0-9a-f]+) +[0-9a-f]+ +([A-Z]*)")
    set(name ${CMAKE_MATCH_1})
    set(flags ${CMAKE_MATCH_3})
    if(flags MATCHES "A" AND NOT name MATCHES "^\\.(header|text|rodata|shared|priv)$")
      message(FATAL_ERROR "heap blob ${ELF} has a section ${name} (${flags}): only code and read-only data may be in it")
    endif()
  endif()
endforeach()
execute_process(COMMAND ${OBJCOPY} -O binary --only-section=.header --only-section=.text
                --only-section=.rodata ${ELF} ${BIN} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objcopy -O binary ${ELF} failed")
endif()
file(SIZE ${BIN} size)
if(size GREATER 16384 OR size LESS 72)
  message(FATAL_ERROR "heap blob image is ${size} bytes: HEAPABI_CODE_SIZE is 16384")
endif()
