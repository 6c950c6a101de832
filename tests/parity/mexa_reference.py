"""MEXA's reference code, for parity tests: cisnlp/MEXA at commit bc28c41 ("change precision"), files
``embed_extractor.py`` (``weighted_embeddings``, ``lasttoken_embeddings``, ``get_embedding_layers``) and
``compute_mexa.py`` (``cosine_similarity``, ``mexa``), copied verbatim (Apache License 2.0, Copyright the MEXA
authors; https://github.com/cisnlp/MEXA). Only the functions are copied, not the scripts' file handling, which
``reference_alignment`` below replaces with what ``main``/``compute_distance`` do in memory; the functions run on
CPU by passing ``device="cpu"`` (their default is CUDA)."""

# ruff: noqa
# fmt: off
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import cosine

# Function to handle weighted embeddings
def weighted_embeddings(layer, attention_mask, device='cuda'):
    # Compute weights for non-padding tokens
    weights_for_non_padding = attention_mask * torch.arange(start=1, end=layer.shape[1] + 1, device=device).unsqueeze(0)
    sum_embeddings = torch.sum(layer * weights_for_non_padding.unsqueeze(-1), dim=1)
    num_of_non_padding_tokens = torch.sum(weights_for_non_padding, dim=-1).unsqueeze(-1)
    sentence_embeddings = sum_embeddings / num_of_non_padding_tokens
    sentence_embeddings = sentence_embeddings.squeeze().to(torch.float32).cpu().numpy()
    return sentence_embeddings


def lasttoken_embeddings(layer, attention_mask, device='cuda'):
    # Compute the index of the last non-padding token
    idx_of_last_token = attention_mask.bool().sum().item() - 1  # scalar index
    # Extract the embedding from the layer
    embedding = layer[0, idx_of_last_token, :]  # shape: [hidden_dim]
    sentence_embedding = embedding.to(torch.float32).cpu().numpy()
    return sentence_embedding


# Function to extract embeddings
def get_embedding_layers(text, model, tokenizer, device='cuda'):
    tokens = tokenizer(text, return_tensors='pt', padding=True).to(device)
    attention_mask = tokens.attention_mask.to(device)

    sentence_embeddings_weighted = []
    sentence_embeddings_last_token = []
    
    with torch.no_grad():
        hidden_state_layers = model(**tokens, output_hidden_states=True)["hidden_states"]

        for layer in hidden_state_layers:
            embd_weighted = weighted_embeddings(layer, attention_mask, device)
            embd_last_token = lasttoken_embeddings(layer, attention_mask, device)

            sentence_embeddings_weighted.append(embd_weighted)
            sentence_embeddings_last_token.append(embd_last_token)

    return sentence_embeddings_weighted, sentence_embeddings_last_token

def cosine_similarity(array1, array2):
    array1 = array1.astype(np.float64)
    array2 = array2.astype(np.float64)
    cosine_dist = cosine(array1, array2)
    cosine_similarity = 1 - cosine_dist
    return cosine_similarity

def mexa(matrix):
    n = len(matrix)  # size of the square matrix
    count = 0
    
    for i in range(n):
        # Get the diagonal element
        diag_element = matrix[i][i]
        
        # Get the row and column
        row = matrix[i]
        column = matrix[:,i]
        
        # Check if the diagonal element is strictly greater than all other elements in its row (excluding itself)
        if diag_element > max(np.delete(row, i)):
            # Check if the diagonal element is strictly greater than all other elements in its column (excluding itself)
            if diag_element > max(np.delete(column, i)):
                count += 1

    # Normalized count
    count_norm = count / n
    return count_norm


# fmt: on


def reference_alignment(
    model, tokenizer, pivot: list[str], other: list[str], embedding_type: str
) -> dict[int, tuple[float, np.ndarray]]:
    """Per layer, MEXA of ``other`` against ``pivot`` as the reference scripts compute it, with the cosine matrix it
    came from: each text embedded alone (``get_embedding_layers``, pad token = EOS as ``main`` sets it), every
    pair's cosine (``cosine_similarity``), ``mexa`` of each layer's matrix (``compute_distance``)."""
    tokenizer.pad_token = tokenizer.eos_token
    index = 0 if embedding_type == "embd_weighted" else 1
    pivot_layers = [get_embedding_layers(text, model, tokenizer, device="cpu")[index] for text in pivot]
    other_layers = [get_embedding_layers(text, model, tokenizer, device="cpu")[index] for text in other]
    alignments = {}
    for layer in range(len(pivot_layers[0])):
        matrix = np.zeros((len(pivot), len(other)))
        for p_id, pivot_single in enumerate(pivot_layers):
            for l_id, lang_single in enumerate(other_layers):
                matrix[p_id, l_id] = cosine_similarity(pivot_single[layer], lang_single[layer])
        alignments[layer] = (mexa(matrix), matrix)
    return alignments
