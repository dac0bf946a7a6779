"""Feasibility check: is this data set worth training on, and how much would more labels help?
Feature-cache analyses of a labelled target set (learning curve, suspect labels, transferability)."""
