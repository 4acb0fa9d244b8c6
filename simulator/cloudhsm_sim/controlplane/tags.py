"""Tags on clusters and backups: one list that TagList and ListTags show."""

from .errors import ResourceNotFound, TagError
from .state import MAX_TAGS, advance, check_tags, locked, merge_tags, require_pattern


# ---------------------------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------------------------


def _tagged(backend, resource_id):
    require_pattern("ResourceId", "resourceId", resource_id)
    resource = backend.clusters.get(resource_id) or backend.backups.get(resource_id)
    if resource is None:
        raise ResourceNotFound("Resource '{0}' not found in region {1}".format(resource_id, backend.region_name))
    return resource


def list_tags(backend, resource_id):
    with locked():
        advance(backend)
        return [dict(tag) for tag in _tagged(backend, resource_id).tags]


def tag_resource(backend, resource_id, tag_list):
    with locked():
        advance(backend)
        resource = _tagged(backend, resource_id)
        check_tags(tag_list)
        merged = merge_tags([dict(tag) for tag in resource.tags], tag_list)
        if len(merged) > MAX_TAGS:
            raise TagError("Resource '{0}' would have {1} tags; at most {2} are allowed".format(
                resource_id, len(merged), MAX_TAGS))
        resource.tags = merged


def untag_resource(backend, resource_id, tag_key_list):
    with locked():
        advance(backend)
        resource = _tagged(backend, resource_id)
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in set(tag_key_list or ())]
