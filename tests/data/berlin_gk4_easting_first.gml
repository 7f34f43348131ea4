<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- Written by 3D City Database Importer/Exporter, version "3.3.1-build1" -->
<!-- Chair of Geoinformatics, Technical University of Munich, Germany, https://www.gis.bgu.tum.de/ -->
<CityModel xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0" xmlns:gml="http://www.opengis.net/gml" xmlns:wtr="http://www.opengis.net/citygml/waterbody/2.0" xmlns:app="http://www.opengis.net/citygml/appearance/2.0" xmlns:tex="http://www.opengis.net/citygml/texturedsurface/2.0" xmlns="http://www.opengis.net/citygml/2.0" xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0" xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" xmlns:dem="http://www.opengis.net/citygml/relief/2.0" xmlns:grp="http://www.opengis.net/citygml/cityobjectgroup/2.0" xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:tun="http://www.opengis.net/citygml/tunnel/2.0" xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0" xmlns:gen="http://www.opengis.net/citygml/generics/2.0" xmlns:brid="http://www.opengis.net/citygml/bridge/2.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:luse="http://www.opengis.net/citygml/landuse/2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/citygml/waterbody/2.0 http://schemas.opengis.net/citygml/waterbody/2.0/waterBody.xsd http://www.opengis.net/citygml/appearance/2.0 http://schemas.opengis.net/citygml/appearance/2.0/appearance.xsd http://www.opengis.net/citygml/texturedsurface/2.0 http://schemas.opengis.net/citygml/texturedsurface/2.0/texturedSurface.xsd http://www.opengis.net/citygml/vegetation/2.0 http://schemas.opengis.net/citygml/vegetation/2.0/vegetation.xsd http://www.opengis.net/citygml/transportation/2.0 http://schemas.opengis.net/citygml/transportation/2.0/transportation.xsd http://www.opengis.net/citygml/relief/2.0 http://schemas.opengis.net/citygml/relief/2.0/relief.xsd http://www.opengis.net/citygml/cityobjectgroup/2.0 http://schemas.opengis.net/citygml/cityobjectgroup/2.0/cityObjectGroup.xsd http://www.opengis.net/citygml/building/2.0 http://schemas.opengis.net/citygml/building/2.0/building.xsd http://www.opengis.net/citygml/tunnel/2.0 http://schemas.opengis.net/citygml/tunnel/2.0/tunnel.xsd http://www.opengis.net/citygml/cityfurniture/2.0 http://schemas.opengis.net/citygml/cityfurniture/2.0/cityFurniture.xsd http://www.opengis.net/citygml/generics/2.0 http://schemas.opengis.net/citygml/generics/2.0/generics.xsd http://www.opengis.net/citygml/bridge/2.0 http://schemas.opengis.net/citygml/bridge/2.0/bridge.xsd http://www.opengis.net/citygml/landuse/2.0 http://schemas.opengis.net/citygml/landuse/2.0/landUse.xsd">
  <cityObjectMember>
    <bldg:Building gml:id="BLDG_0003000b001e15b2">
      <gml:boundedBy>
        <gml:Envelope srsName="urn:ogc:def:crs,crs:EPSG::31468,crs:EPSG::7837" srsDimension="3">
          <gml:lowerCorner>4592409.1471 5820286.2336 33.0500</gml:lowerCorner>
          <gml:upperCorner>4592440.8045 5820307.1759 37.1355</gml:upperCorner>
        </gml:Envelope>
      </gml:boundedBy>
      <creationDate>2015-04-22</creationDate>
      <externalReference>
        <informationSystem>LOCATION</informationSystem>
        <externalObject>
          <name>0003000b001e15b2</name>
        </externalObject>
      </externalReference>
      <gen:stringAttribute name="GE_LoD2_zOffset">
        <gen:value>Auto|1.5004691629395026|28.02.2015 18:40:37</gen:value>
      </gen:stringAttribute>
      <gen:intAttribute name="EIG_KL_ST">
        <gen:value>1</gen:value>
      </gen:intAttribute>
      <gen:intAttribute name="EIG_KL_PV">
        <gen:value>3</gen:value>
      </gen:intAttribute>
      <gen:stringAttribute name="FOLIE">
        <gen:value>011</gen:value>
      </gen:stringAttribute>
      <gen:doubleAttribute name="H_First_Min">
        <gen:value>37.13551</gen:value>
      </gen:doubleAttribute>
      <gen:doubleAttribute name="H_First_Max">
        <gen:value>37.13551</gen:value>
      </gen:doubleAttribute>
      <gen:doubleAttribute name="H_Trauf_Min">
        <gen:value>37.13551</gen:value>
      </gen:doubleAttribute>
      <gen:doubleAttribute name="H_Trauf_Max">
        <gen:value>37.13551</gen:value>
      </gen:doubleAttribute>
      <gen:intAttribute name="TexVersion">
        <gen:value>1</gen:value>
      </gen:intAttribute>
      <gen:stringAttribute name="Kachel">
        <gen:value>2100021000</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="LAND">
        <gen:value>11</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="RBEZ">
        <gen:value>0</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="KREIS">
        <gen:value>00</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="GMDE">
        <gen:value>001</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="STR">
        <gen:value>01997</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="HNR">
        <gen:value>18</gen:value>
      </gen:stringAttribute>
      <gen:stringAttribute name="LFD">
        <gen:value>001</gen:value>
      </gen:stringAttribute>
      <gen:intAttribute name="ANZ_LOC">
        <gen:value>1</gen:value>
      </gen:intAttribute>
      <app:appearance>
        <app:Appearance gml:id="UUID_74b84c57-1f92-4e6a-849b-fdd238f48379">
          <app:theme>Eignung Solarthermie</app:theme>
          <app:surfaceDataMember>
            <app:ParameterizedTexture gml:id="UUID_60ccf25e-f370-4df4-a1d0-62414138f95a">
              <app:imageURI>appearance/tex5284715.jpg</app:imageURI>
              <app:mimeType>image/jpeg</app:mimeType>
              <app:textureType>unknown</app:textureType>
              <app:wrapMode>wrap</app:wrapMode>
              <app:borderColor>1.0 1.0 1.0 1.0</app:borderColor>
              <app:target uri="#GEOM_6946743">
                <app:TexCoordList>
                  <app:textureCoordinates ring="#GEOM_6946743_0_">0.999851 0.988286 0.829853 0.99897 6.8E-5 0.007396 0.170888 3.01E-4 0.999851 0.988286</app:textureCoordinates>
                </app:TexCoordList>
              </app:target>
            </app:ParameterizedTexture>
          </app:surfaceDataMember>
          <app:surfaceDataMember>
            <app:ParameterizedTexture gml:id="UUID_313366b3-db05-47b0-b56b-b26326b1cea1">
              <app:imageURI>appearance/tex5284720.jpg</app:imageURI>
              <app:mimeType>image/jpeg</app:mimeType>
              <app:textureType>unknown</app:textureType>
              <app:wrapMode>wrap</app:wrapMode>
              <app:borderColor>1.0 1.0 1.0 1.0</app:borderColor>
              <app:target uri="#GEOM_6946741">
                <app:TexCoordList>
                  <app:textureCoordinates ring="#GEOM_6946741_0_">0.002269 0.009191 0.150061 4.63E-4 0.999366 0.99456 0.850859 0.999679 0.002269 0.009191</app:textureCoordinates>
                </app:TexCoordList>
              </app:target>
            </app:ParameterizedTexture>
          </app:surfaceDataMember>
          <app:surfaceDataMember>
            <app:ParameterizedTexture gml:id="UUID_5c5dea97-3af0-4702-b74e-fba9a11398f3">
              <app:imageURI>appearance/tex5284723.jpg</app:imageURI>
              <app:mimeType>image/jpeg</app:mimeType>
              <app:textureType>unknown</app:textureType>
              <app:wrapMode>wrap</app:wrapMode>
              <app:borderColor>1.0 1.0 1.0 1.0</app:borderColor>
              <app:target uri="#GEOM_6946742">
                <app:TexCoordList>
                  <app:textureCoordinates ring="#GEOM_6946742_0_">0.973985 0.004546 0.993854 0.442233 0.017342 0.993678 8.68E-4 0.555611 0.973985 0.004546</app:textureCoordinates>
                </app:TexCoordList>
              </app:target>
            </app:ParameterizedTexture>
          </app:surfaceDataMember>
          <app:surfaceDataMember>
            <app:ParameterizedTexture gml:id="UUID_b7886ad7-9a94-4942-b2d6-be0cf00b0e6c">
              <app:imageURI>appearance/tex5284728.jpg</app:imageURI>
              <app:mimeType>image/jpeg</app:mimeType>
              <app:textureType>unknown</app:textureType>
              <app:wrapMode>wrap</app:wrapMode>
              <app:borderColor>1.0 1.0 1.0 1.0</app:borderColor>
              <app:target uri="#GEOM_6946740">
                <app:TexCoordList>
                  <app:textureCoordinates ring="#GEOM_6946740_0_">4.39E-4 0.999365 0.03404 0.579493 0.993504 0.001988 0.956712 0.422333 4.39E-4 0.999365</app:textureCoordinates>
                </app:TexCoordList>
              </app:target>
            </app:ParameterizedTexture>
          </app:surfaceDataMember>
          <app:surfaceDataMember>
            <app:X3DMaterial gml:id="UUID_94aaa1d4-b227-436e-abc6-04bb6588b8e1">
              <gml:name>Eignung Photovoltaik_EIG_KL_ST_1</gml:name>
              <app:ambientIntensity>0.2</app:ambientIntensity>
              <app:diffuseColor>0.83921569 0.30588235 0.21176471</app:diffuseColor>
              <app:emissiveColor>0.0 0.0 0.0</app:emissiveColor>
              <app:specularColor>0.0 0.0 0.0</app:specularColor>
              <app:shininess>0.0</app:shininess>
              <app:transparency>0.0</app:transparency>
              <app:target>#UUID_32dfd94a-14ee-466a-b680-b64ccd787c6e</app:target>
            </app:X3DMaterial>
          </app:surfaceDataMember>
        </app:Appearance>
      </app:appearance>
      <app:appearance>
        <app:Appearance gml:id="UUID_daa240c8-4c4e-4425-ab96-6c435736791f">
          <app:theme>Eignung Photovoltaik</app:theme>
          <app:surfaceDataMember>
            <app:X3DMaterial gml:id="UUID_4db19743-17a2-4b3c-afb5-65914340081e">
              <gml:name>Eignung Photovoltaik_EIG_KL_PV_3</gml:name>
              <app:ambientIntensity>0.2</app:ambientIntensity>
              <app:diffuseColor>0.83921569 0.30588235 0.21176471</app:diffuseColor>
              <app:emissiveColor>0.0 0.0 0.0</app:emissiveColor>
              <app:specularColor>0.0 0.0 0.0</app:specularColor>
              <app:shininess>0.0</app:shininess>
              <app:transparency>0.0</app:transparency>
              <app:target>#UUID_32dfd94a-14ee-466a-b680-b64ccd787c6e</app:target>
            </app:X3DMaterial>
          </app:surfaceDataMember>
          <app:surfaceDataMember xlink:href="#UUID_60ccf25e-f370-4df4-a1d0-62414138f95a"/>
          <app:surfaceDataMember xlink:href="#UUID_5c5dea97-3af0-4702-b74e-fba9a11398f3"/>
          <app:surfaceDataMember xlink:href="#UUID_b7886ad7-9a94-4942-b2d6-be0cf00b0e6c"/>
          <app:surfaceDataMember xlink:href="#UUID_313366b3-db05-47b0-b56b-b26326b1cea1"/>
        </app:Appearance>
      </app:appearance>
      <app:appearance>
        <app:Appearance gml:id="UUID_a22992f2-0141-4ad4-8530-e03254737d70">
          <app:theme>rgbTexture</app:theme>
          <app:surfaceDataMember>
            <app:ParameterizedTexture gml:id="UUID_2aee9ac9-ab95-4e12-b424-02b7bc1eb732">
              <app:imageURI>appearance/tex5284745.jpg</app:imageURI>
              <app:mimeType>image/jpeg</app:mimeType>
              <app:textureType>unknown</app:textureType>
              <app:wrapMode>wrap</app:wrapMode>
              <app:borderColor>1.0 1.0 1.0 1.0</app:borderColor>
              <app:target uri="#GEOM_6946745">
                <app:TexCoordList>
                  <app:textureCoordinates ring="#GEOM_6946745_0_">0.144638 0.997614 9.37E-4 0.702191 0.854959 8.26E-4 0.998682 0.296271 0.144638 0.997614</app:textureCoordinates>
                </app:TexCoordList>
              </app:target>
            </app:ParameterizedTexture>
          </app:surfaceDataMember>
          <app:surfaceDataMember xlink:href="#UUID_60ccf25e-f370-4df4-a1d0-62414138f95a"/>
          <app:surfaceDataMember xlink:href="#UUID_b7886ad7-9a94-4942-b2d6-be0cf00b0e6c"/>
          <app:surfaceDataMember xlink:href="#UUID_5c5dea97-3af0-4702-b74e-fba9a11398f3"/>
          <app:surfaceDataMember xlink:href="#UUID_313366b3-db05-47b0-b56b-b26326b1cea1"/>
        </app:Appearance>
      </app:appearance>
      <bldg:function>1179</bldg:function>
      <bldg:measuredHeight uom="urn:ogc:def:uom:UCUM::m">4.08551</bldg:measuredHeight>
      <bldg:boundedBy>
        <bldg:GroundSurface gml:id="UUID_4b3a3d38-6117-4142-8d64-fd498916f0b4">
          <gml:boundedBy>
            <gml:Envelope srsName="urn:ogc:def:crs,crs:EPSG::31468,crs:EPSG::7837" srsDimension="3">
              <gml:lowerCorner>4592409.1471 5820286.2336 33.0500</gml:lowerCorner>
              <gml:upperCorner>4592440.8044 5820307.1758 33.0500</gml:upperCorner>
            </gml:Envelope>
          </gml:boundedBy>
          <creationDate>2015-04-22</creationDate>
          <bldg:lod2MultiSurface>
            <gml:MultiSurface gml:id="UUID_52661b3e-6911-47f3-a3ab-4fe9e6695c4a">
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946738">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946738_0_">
                      <gml:posList srsDimension="3">4592408.8681 5820298.0945 33.0500 4592411.6966 5820305.9083 33.0500 4592441.0834 5820295.3149 33.0500 4592438.2549 5820287.5012 33.0500 4592408.8681 5820298.0945 33.0500</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
            </gml:MultiSurface>
          </bldg:lod2MultiSurface>
        </bldg:GroundSurface>
      </bldg:boundedBy>
      <bldg:boundedBy>
        <bldg:WallSurface gml:id="UUID_f6171e01-36f2-41b4-b612-937bb0c2e944">
          <gml:boundedBy>
            <gml:Envelope srsName="urn:ogc:def:crs,crs:EPSG::31468,crs:EPSG::7837" srsDimension="3">
              <gml:lowerCorner>4592409.1471 5820286.2336 33.0500</gml:lowerCorner>
              <gml:upperCorner>4592440.8045 5820307.1759 37.1355</gml:upperCorner>
            </gml:Envelope>
          </gml:boundedBy>
          <creationDate>2015-04-22</creationDate>
          <bldg:lod2MultiSurface>
            <gml:MultiSurface gml:id="UUID_db9cea97-6308-4877-8c14-011adf1dfc6c">
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946743">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946743_0_">
                      <gml:posList srsDimension="3">4592438.2549 5820287.5012 33.0500 4592438.2550 5820287.5013 37.1355 4592408.8682 5820298.0947 37.1355 4592408.8681 5820298.0945 33.0500 4592438.2549 5820287.5012 33.0500</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946742">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946742_0_">
                      <gml:posList srsDimension="3">4592408.8681 5820298.0945 33.0500 4592408.8682 5820298.0947 37.1355 4592411.6967 5820305.9084 37.1355 4592411.6966 5820305.9083 33.0500 4592408.8681 5820298.0945 33.0500</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946741">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946741_0_">
                      <gml:posList srsDimension="3">4592411.6966 5820305.9083 33.0500 4592411.6967 5820305.9084 37.1355 4592441.0835 5820295.3150 37.1355 4592441.0834 5820295.3149 33.0500 4592411.6966 5820305.9083 33.0500</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946740">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946740_0_">
                      <gml:posList srsDimension="3">4592441.0834 5820295.3149 33.0500 4592441.0835 5820295.3150 37.1355 4592438.2550 5820287.5013 37.1355 4592438.2549 5820287.5012 33.0500 4592441.0834 5820295.3149 33.0500</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
            </gml:MultiSurface>
          </bldg:lod2MultiSurface>
        </bldg:WallSurface>
      </bldg:boundedBy>
      <bldg:boundedBy>
        <bldg:RoofSurface gml:id="UUID_53380302-0778-44ed-854a-c1ccf911bc3b">
          <gml:boundedBy>
            <gml:Envelope srsName="urn:ogc:def:crs,crs:EPSG::31468,crs:EPSG::7837" srsDimension="3">
              <gml:lowerCorner>4592409.1472 5820286.2338 37.1355</gml:lowerCorner>
              <gml:upperCorner>4592440.8045 5820307.1759 37.1355</gml:upperCorner>
            </gml:Envelope>
          </gml:boundedBy>
          <creationDate>2015-04-22</creationDate>
          <bldg:lod2MultiSurface>
            <gml:MultiSurface gml:id="UUID_32dfd94a-14ee-466a-b680-b64ccd787c6e">
              <gml:surfaceMember>
                <gml:Polygon gml:id="GEOM_6946745">
                  <gml:exterior>
                    <gml:LinearRing gml:id="GEOM_6946745_0_">
                      <gml:posList srsDimension="3">4592438.2550 5820287.5013 37.1355 4592441.0835 5820295.3150 37.1355 4592411.6967 5820305.9084 37.1355 4592408.8682 5820298.0947 37.1355 4592438.2550 5820287.5013 37.1355</gml:posList>
                    </gml:LinearRing>
                  </gml:exterior>
                </gml:Polygon>
              </gml:surfaceMember>
            </gml:MultiSurface>
          </bldg:lod2MultiSurface>
        </bldg:RoofSurface>
      </bldg:boundedBy>
      <bldg:address>
        <Address gml:id="ID_148325">
          <xalAddress>
            <xAL:AddressDetails>
              <xAL:Country>
                <xAL:Locality Type="Town">
                  <xAL:LocalityName>Berlin</xAL:LocalityName>
                  <xAL:Thoroughfare Type="Street">
                    <xAL:ThoroughfareNumber>18</xAL:ThoroughfareNumber>
                    <xAL:ThoroughfareName>Hildebrandstr.</xAL:ThoroughfareName>
                  </xAL:Thoroughfare>
                </xAL:Locality>
              </xAL:Country>
            </xAL:AddressDetails>
          </xalAddress>
        </Address>
      </bldg:address>
    </bldg:Building>
  </cityObjectMember>
</CityModel>