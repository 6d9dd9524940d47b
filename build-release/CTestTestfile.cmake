# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build-release
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("src/common")
subdirs("src/core")
subdirs("src/sched")
subdirs("src/scenario")
subdirs("src/sim")
subdirs("src/store")
subdirs("src/wire")
subdirs("src/api")
subdirs("src/server")
subdirs("src/cuda")
subdirs("src/agent")
subdirs("bench")
subdirs("src/cli")
subdirs("tests")
