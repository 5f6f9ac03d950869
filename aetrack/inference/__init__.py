"""From images to people: letterboxing, the network, flip and multi-scale merging, decoding, mapping back."""
