# Install rules and the Debian package (docs/design.md §11.4): what
# `cmake --install build [--prefix P]` (and DESTDIR=) puts where, and CPack's
# DEB generator for scripts/package.sh. Tests, workloads and fuzzers are
# not installed.
include(GNUInstallDirs)
# Installing (cmake --install, CPack) takes what is built and builds
# nothing: scripts/package.sh and scripts/test.sh build first. With the
# default (install depends on all), CPack's preinstall step walked every
# target of the tree again, workloads and unit tests included: 1 to 4
# minutes of make on a loaded machine, all of e2e.package's time.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

install(TARGETS cprof RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Every man/*.1, compressed with gzip -9n as Debian policy §12.1 asks of a
# package (man-db reads both), so that a new page needs no edit here.
find_program(GZIP_EXECUTABLE gzip)
if(NOT GZIP_EXECUTABLE)
  message(FATAL_ERROR "gzip not found: apt-get install gzip")
endif()
file(GLOB CPROF_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.1)
set(CPROF_MAN_GZ)
foreach(page ${CPROF_MAN_PAGES})
  get_filename_component(name ${page} NAME)
  set(gz ${CMAKE_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${GZIP_EXECUTABLE} -9nc ${page} > ${gz}
    DEPENDS ${page} VERBATIM)
  list(APPEND CPROF_MAN_GZ ${gz})
endforeach()
add_custom_target(cprof_man ALL DEPENDS ${CPROF_MAN_GZ})
install(FILES ${CPROF_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${CMAKE_SOURCE_DIR}/dist/cprof.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME cprof)
# The licence: whichever of LICENSE* / COPYING* the repository holds, also as
# the package's copyright file. None exists yet (choosing one is the
# project owner's call, docs/design.md §11.4): README only until then.
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB CPROF_LICENCE LIST_DIRECTORIES false
     ${CMAKE_SOURCE_DIR}/LICENSE* ${CMAKE_SOURCE_DIR}/COPYING*)
if(CPROF_LICENCE)
  install(FILES ${CPROF_LICENCE} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  list(GET CPROF_LICENCE 0 CPROF_LICENCE_FIRST)
  install(FILES ${CPROF_LICENCE_FIRST} DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/dist/sysusers.conf
        DESTINATION lib/sysusers.d RENAME cprof.conf)

# The unit names the installed binary, and goes where systemd looks: Debian
# 12's packages put units in /lib/systemd/system; under another prefix,
# PREFIX/lib/systemd/system (systemd reads /usr/local/lib/systemd/system).
# Decided when installing, as --prefix may differ from the configured one.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(_cprof_unitdir /lib/systemd/system)
  else()
    set(_cprof_unitdir \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  endif()
  set(CPROF_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  # One file per prefix and DESTDIR: installs may run at once (ctest -j).
  string(MD5 _cprof_h \"\$ENV{DESTDIR}|\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/dist/cprof.service.in\"
                 \"${CMAKE_BINARY_DIR}/dist/\${_cprof_h}/cprof.service\" @ONLY)
  file(INSTALL DESTINATION \"\${_cprof_unitdir}\" TYPE FILE
       FILES \"${CMAKE_BINARY_DIR}/dist/\${_cprof_h}/cprof.service\")
")

# --- the Debian package (scripts/package.sh: cpack in the build directory)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cprof)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "cprof developers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "sampling profiler and thread dumper for native Linux processes")
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; CPack indents these
# lines of the extended description itself.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"cprof records CPU profiles of a running process (perf events, DWARF
unwinding of copied user stacks), its off-CPU waits and timelines, dumps
the stack of every thread, and serves Go's /debug/pprof endpoints for one
process or every process of the host (cprof.service), in the pprof format
read by go tool pprof, Pyroscope, Grafana Alloy and Parca.")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends from the binary's NEEDED libraries (dpkg-shlibdeps), plus the
# library opened with dlopen when a server starts, which no tool can see.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${MHD_PACKAGE}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/dist/debian/postinst
    ${CMAKE_SOURCE_DIR}/dist/debian/prerm
    ${CMAKE_SOURCE_DIR}/dist/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
