#include "command.h"

int main(int argc, char** argv) { return epalm::cli::run_main(argc, argv); }
