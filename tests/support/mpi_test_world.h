// The World of a test run under mpirun (set by mpi_test_main.cpp).
#pragma once

namespace epalm::distributed {
class World;
}

namespace epalm::testing {
extern distributed::World* mpi_test_world;
}
