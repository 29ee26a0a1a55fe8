"""The read connector: ReadFromApi and the splittable DoFns that walk a window's pages, with their restrictions."""
