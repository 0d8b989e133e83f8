# `cmake --install` puts libsmoe, its public headers and smoe-convert under the prefix and
# exports smoe::smoe so other projects can find_package(smoe).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS smoe EXPORT smoeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/smoe DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT smoeTargets NAMESPACE smoe:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smoe)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/smoeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/smoeConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smoe)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/smoeConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/smoeConfig.cmake ${PROJECT_BINARY_DIR}/smoeConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smoe)
