# cmake --install: the CLI, physynth's shared libraries, their public headers, a CMake package
# (find_package(physynth) with physynth::core, ::solvers, ::domains, ::anchor, ::engine, ::active, ::pinn,
# ::viz) and the Python module (python/CMakeLists.txt). cpack -G DEB makes a .deb of it.
include(CMakePackageConfigHelpers)

set(physynth_installed physynth_core physynth_solvers physynth_domains physynth_anchor physynth_engine physynth_active
    physynth_pinn_options physynth_viz_headers)
if(TARGET physynth_pinn)
  list(APPEND physynth_installed physynth_pinn)
endif()
if(TARGET physynth_viz)
  list(APPEND physynth_installed physynth_viz)
endif()
foreach(t ${physynth_installed})
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  string(REPLACE "physynth_" "" short ${t})
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${short})
endforeach()

# Installed programs and libraries find physynth's libraries beside them (lib/) or one up (bin/).
set_target_properties(physynth PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
foreach(t ${physynth_installed})
  get_target_property(type ${t} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    set_target_properties(${t} PROPERTIES INSTALL_RPATH "$ORIGIN" VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  endif()
endforeach()

install(TARGETS physynth RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS ${physynth_installed} EXPORT physynthTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir core solvers domains/kinetics domains/manufacturing domains/crop domains/equations anchor engine active pinn viz)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
endforeach()

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/physynth)
install(EXPORT physynthTargets NAMESPACE physynth:: DESTINATION ${config_dir} COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/physynthConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/physynthConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/physynthConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/physynthConfig.cmake ${PROJECT_BINARY_DIR}/physynthConfigVersion.cmake
        DESTINATION ${config_dir} COMPONENT development)

# The .deb: one package with the program, the libraries, the headers, the CMake package and the
# Python module. Its library dependencies come from dpkg-shlibdeps; the headers' own (Eigen,
# Ceres' Jet, yaml-cpp, Boost, nlohmann-json) are declared, so find_package(physynth) works
# after apt-get install ./physynth_*.deb.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME physynth)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "physynth maintainers <physynth@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Physics-informed synthetic data engine for engineering domains")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libeigen3-dev, libceres-dev, libyaml-cpp-dev, libboost-dev, nlohmann-json3-dev, python3, python3-numpy")
# dpkg-shlibdeps must find physynth's own libraries in the package, not on the system.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
include(CPack)
